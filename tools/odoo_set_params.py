"""Set ``ir.config_parameter`` values in an Odoo database; runs in the venv with Odoo's own API.

python tools/odoo_set_params.py CONFIG_FILE DATABASE key=value [key=value ...]
"""

import sys

import odoo
from odoo.modules.registry import Registry
from odoo.tools import config


def main(argv):
    conf, db, *pairs = argv
    config.parse_config(["-c", conf, "-d", db, "--log-level=warn"])
    registry = Registry(db)
    with registry.cursor() as cr:  # commits on success
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        params = env["ir.config_parameter"]
        for pair in pairs:
            key, _, value = pair.partition("=")
            params.set_param(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
