"""The throwaway CA the TLS tests trust: trustme's, with a server certificate for
127.0.0.1 and localhost (what a TLS-only valkey-server on loopback presents).
"""

from __future__ import annotations

from pathlib import Path

from scripts.servers.base import LOOPBACK, TlsFiles


def make_tls_files(directory: Path) -> TlsFiles:
    """A new CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="valkey-caching local CA")
    server = ca.issue_cert(LOOPBACK, "localhost")
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_file))
    server.cert_chain_pems[0].write_to_path(str(files.cert_file))
    files.key_file.touch(mode=0o600)
    server.private_key_pem.write_to_path(str(files.key_file))
    return files
