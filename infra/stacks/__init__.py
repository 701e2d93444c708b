"""Deploy units: network, data (stateful), api, monitoring."""
