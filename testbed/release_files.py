"""Release-time files of the demo host: AEGIS-C's compose project, ACSO's staging security
validation, Aureus's pre-deploy snapshot directory.

The compose CLI and the security script are stand-ins (simulations) written next to them:
`docker-compose` cannot be installed here. The compose stand-in really validates what
`docker-compose config -q` validates for the runbook's purpose: the file parses, has
services, and every ``${VAR:?message}`` is set by the environment file.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

COMPOSE_FILE = """\
# AEGIS-C (seed 000): the services the runbook names, with interpolated secrets.
services:
  detector:
    image: aegis-c/detector:2.3.1
    ports: ["8010:8010"]
    environment:
      API_KEY: ${API_KEY:?API_KEY must be set}
      REDIS_URL: redis://redis:6379/0
  fingerprint:
    image: aegis-c/fingerprint:2.3.1
  console:
    image: aegis-c/console:2.3.1
  postgres:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}
  redis:
    image: redis:7
"""

COMPOSE_STAND_IN = '''\
#!{python}
"""Stand-in for `docker-compose -f FILE --env-file ENV config -q` (Vigil demo, a simulation)."""
import re, sys
import yaml

args = sys.argv[1:]
def option(name):
    return args[args.index(name) + 1] if name in args else None
compose, env_file = option("-f") or "docker-compose.yml", option("--env-file") or ".env"
try:
    text = open(compose).read()
    values = dict(
        line.split("=", 1) for line in open(env_file).read().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
except OSError as problem:
    sys.exit(f"ERROR: {{problem.strerror}}: {{problem.filename}}")
for name, message in re.findall(r"\\$\\{{(\\w+):\\?([^}}]*)\\}}", text):
    if not values.get(name):
        sys.exit(f"ERROR: Missing mandatory value for \\"environment\\" option: {{message}}")
try:
    document = yaml.safe_load(text)
except yaml.YAMLError as problem:
    sys.exit(f"ERROR: yaml.scanner.ScannerError: {{problem}}")
if not isinstance(document, dict) or not document.get("services"):
    sys.exit("ERROR: no service is defined")
'''

SECURITY_STAND_IN = """\
#!{python}
# Stand-in for ACSO's staging security validation (Vigil demo testbed, a simulation).
import sys
print("staging security validation passed")
sys.exit(0)
"""


def build_release_files(root: Path, *, compose_env_complete: bool = True) -> dict[str, str]:
    """Write the files and stand-ins under ``root``; the variables the demo parts read."""
    aegis_c = root / "opt/aegis-c"
    aegis_c.mkdir(parents=True, exist_ok=True)
    (aegis_c / "docker-compose.yml").write_text(COMPOSE_FILE)
    env = [f"API_KEY={secrets.token_urlsafe(18)}"]
    if compose_env_complete:
        env.append(f"POSTGRES_PASSWORD={secrets.token_urlsafe(18)}")
    (aegis_c / ".env.production").write_text("\n".join(env) + "\n")
    tools = root / "usr/local/bin"
    tools.mkdir(parents=True, exist_ok=True)
    compose_cli = tools / "docker-compose"
    compose_cli.write_text(COMPOSE_STAND_IN.format(python=sys.executable))
    compose_cli.chmod(0o755)
    security = root / "opt/acso/scripts/security-validation.sh"
    security.parent.mkdir(parents=True, exist_ok=True)
    security.write_text(SECURITY_STAND_IN.format(python=sys.executable))
    security.chmod(0o755)
    snapshots = root / "var/backups/aureus/pre-deploy"
    snapshots.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (snapshots / f"deployments-{stamp}.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- kind: Deployment\n  metadata: {name: bridge, namespace: aureus}\n"
    )
    return {
        "HOSTFILES_COMPOSE_DIR": str(aegis_c),
        "HOSTFILES_COMPOSE_CLI": str(compose_cli),
        "HOSTFILES_SECURITY_VALIDATION": str(security),
        "HOSTFILES_SNAPSHOT_DIR": str(snapshots),
    }
