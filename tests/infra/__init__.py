"""Infra tests (CDK synth, assertions, cdk-nag, cfn-lint).

jsii starts ``node`` when aws_cdk is first imported, while this package's modules are
collected: the pinned, supported Node comes first on the PATH before that
(:mod:`scripts.project_node`).
"""

from scripts.project_node import use_project_node

use_project_node()
