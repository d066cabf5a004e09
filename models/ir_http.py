from odoo import models
from odoo.http import request

from ..controllers.notifications import webhook_body


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        """Graph's webhooks: read the body (bounded, once) before anything can parse a form out of it."""
        if rule.endpoint.routing.get("outlook_webhook"):
            webhook_body(request.httprequest)
        return super()._pre_dispatch(rule, args)
