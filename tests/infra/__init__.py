"""Infra tests (CDK synth, assertions, cdk-nag, cfn-lint).

The jsii runtime reads these when aws_cdk is first imported, which happens while this
package's modules are collected: node 20 is past jsii's support window and the warning
banner would otherwise print on every run.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
