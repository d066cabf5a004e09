import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..graph.auth import MICROSOFT_AUTHORITY_URL, MICROSOFT_GRAPH_URL, AuthSettings
from ..graph.errors import ConfigurationError, OutlookError
from ..graph.run import GraphRun
from .outlook_config import (
    PARAM_AUTHORITY_URL,
    PARAM_CA_BUNDLE,
    PARAM_CLIENT_ID,
    PARAM_CLIENT_SECRET,
    PARAM_CONFIG_ERROR,
    PARAM_GRAPH_URL,
    PARAM_TENANT,
    redirect_uri,
    set_config_error,
)
from .outlook_push import PARAM_PUSH_EXISTING, PARAM_SILENT_RESPONSES
from .outlook_subscription import PARAM_NOTIFICATION_URL, PARAM_REALTIME

_logger = logging.getLogger(__name__)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outlook_client_id = fields.Char("Outlook Client ID", config_parameter=PARAM_CLIENT_ID)
    # Write-only (STYLE R6): no config_parameter, so get_values never sends the secret back.
    outlook_client_secret = fields.Char("Outlook Calendar Client Secret")
    outlook_client_secret_set = fields.Boolean("Outlook Client Secret Stored", compute="_compute_outlook_status")
    outlook_tenant = fields.Char(config_parameter=PARAM_TENANT, default="common")
    outlook_authority_url = fields.Char(
        "Outlook Authority URL", config_parameter=PARAM_AUTHORITY_URL, default=MICROSOFT_AUTHORITY_URL
    )
    outlook_graph_url = fields.Char(
        "Microsoft Graph URL", config_parameter=PARAM_GRAPH_URL, default=MICROSOFT_GRAPH_URL
    )
    outlook_ca_bundle = fields.Char("Outlook CA Bundle", config_parameter=PARAM_CA_BUNDLE)
    outlook_redirect_uri = fields.Char("Outlook Redirect URI", compute="_compute_outlook_status")
    outlook_push_existing_events = fields.Boolean(
        "Push events created before connecting",
        config_parameter=PARAM_PUSH_EXISTING,
        help="Off (safe): a user's Odoo events from before they connected stay in Odoo, so connecting "
        "never invites anybody to old meetings.",
    )
    outlook_sync_interval = fields.Integer("Outlook sync every (minutes)", default=10)
    outlook_silent_responses = fields.Boolean(
        "Answer invitations without notifying the organizer",
        config_parameter=PARAM_SILENT_RESPONSES,
        help="Off (default): when a user accepts or declines in Odoo a meeting organized by someone else, "
        "Outlook sends the answer to the organizer. On: the answer is only recorded (sendResponse false).",
    )
    outlook_config_error = fields.Char("Outlook Configuration Problem", compute="_compute_outlook_status")

    @api.model
    def _outlook_cron(self):
        return self.env.ref("outlook_calendar_sync.ir_cron_outlook_sync").sudo()

    @api.model
    def get_values(self):
        res = super().get_values()
        cron = self._outlook_cron()
        res["outlook_sync_interval"] = cron.interval_number if cron.interval_type == "minutes" else 10
        return res

    # company_id: a dependency the settings' first onchange recomputes (without one, the form shows False)
    @api.depends("company_id")
    def _compute_outlook_status(self):
        params_sudo = self.env["ir.config_parameter"].sudo()
        for settings in self:
            settings.outlook_client_secret_set = bool(params_sudo.get_param(PARAM_CLIENT_SECRET))
            settings.outlook_redirect_uri = redirect_uri(self.env)
            settings.outlook_config_error = params_sudo.get_param(PARAM_CONFIG_ERROR) or False

    @api.constrains("outlook_authority_url", "outlook_graph_url", "outlook_tenant")
    def _check_outlook_urls(self):
        for settings in self:
            for label, url in (
                (_("Authority URL"), settings.outlook_authority_url),
                (_("Graph URL"), settings.outlook_graph_url),
            ):
                if url and not url.strip().lower().startswith("https://"):
                    raise ValidationError(_("The Outlook %(label)s must start with https://.", label=label))
            tenant = (settings.outlook_tenant or "").strip()
            if tenant and not all(ch.isalnum() or ch in "-._" for ch in tenant):
                raise ValidationError(
                    _("The Outlook Tenant must be common, organizations, a tenant id or a domain name.")
                )

    @api.constrains("outlook_sync_interval")
    def _check_outlook_interval(self):
        if any(settings.outlook_sync_interval < 1 for settings in self):
            raise ValidationError(_("The Outlook sync interval must be at least one minute."))

    def set_values(self):
        res = super().set_values()
        cron = self._outlook_cron()
        if (cron.interval_number, cron.interval_type) != (self.outlook_sync_interval, "minutes"):
            cron.write({"interval_number": self.outlook_sync_interval, "interval_type": "minutes"})
        secret = (self.outlook_client_secret or "").strip()
        if secret:
            self.env["ir.config_parameter"].sudo().set_param(PARAM_CLIENT_SECRET, secret)
            set_config_error(self.env, False)
        # never keep the secret on the transient record, which a later read could send back
        self._outlook_forget_typed_secret()
        return res

    def _outlook_forget_typed_secret(self):
        """Take the typed secret off these records, in the database too (never kept beyond its request)."""
        typed = self.filtered("outlook_client_secret")
        if typed:
            typed.outlook_client_secret = False
            typed.flush_recordset(["outlook_client_secret"])

    def _outlook_form_settings(self):
        """The settings as typed in the form (falling back on the stored secret)."""
        self.ensure_one()
        params_sudo = self.env["ir.config_parameter"].sudo()
        return AuthSettings(
            client_id=(self.outlook_client_id or "").strip(),
            client_secret=(self.outlook_client_secret or params_sudo.get_param(PARAM_CLIENT_SECRET) or "").strip(),
            tenant=(self.outlook_tenant or "common").strip(),
            authority_url=(self.outlook_authority_url or MICROSOFT_AUTHORITY_URL).strip(),
            graph_url=(self.outlook_graph_url or MICROSOFT_GRAPH_URL).strip(),
            ca_bundle=(self.outlook_ca_bundle or "").strip(),
        )

    def action_outlook_test_connection(self):
        """Check the form's settings against Microsoft: authority discovery, and the secret when the
        tenant allows app-only tokens. :return: a ``display_notification`` action

        The web client saves the form before it calls this button: a secret typed and not saved would stay on this
        record's row (and be read back by the next request) after the test. It is taken off the record before
        anything else, and this method answers with a notification whatever happens, so that the transaction that
        forgets it is always the one committed (a failure that raised would roll the forgetting back).
        """
        settings = self._outlook_form_settings()
        typed = any(self.mapped("outlook_client_secret"))
        self._outlook_forget_typed_secret()
        message, kind = self._outlook_test(settings)
        if typed:
            message += " " + _(
                "The secret typed in the form was used for this test only: type it again and click Save to store it."
            )
        return self._outlook_test_result(message, kind)

    def _outlook_test(self, settings):
        """:return: ``(message, notification type)`` of the connection test of ``settings``"""
        try:
            secret_checked = GraphRun(settings).auth().check_app_credentials()
        except ConfigurationError as exc:
            return str(exc), "danger"
        except OutlookError as exc:
            return exc.user_message(), "warning"
        except psycopg2.Error:
            raise  # the transaction is broken: Odoo retries the request or reports it
        except Exception as exc:  # noqa: BLE001 - UI boundary: see action_outlook_test_connection
            _logger.warning("outlook: the connection test failed: %s", type(exc).__name__)
            return _("The connection test failed unexpectedly (%(error)s).", error=type(exc).__name__), "danger"
        if secret_checked:
            return _(
                "Microsoft accepted the Client ID and Client Secret for tenant %(tenant)s.", tenant=settings.tenant
            ), "success"
        return _(
            "The sign-in service at %(authority)s answers. With a multi-tenant setting (%(tenant)s) the Client "
            "Secret can only be checked when a user connects; set your tenant id to check it here.",
            authority=settings.authority,
            tenant=settings.tenant,
        ), "info"

    def _outlook_test_result(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Outlook connection test"),
                "message": message,
                "type": kind,
                "sticky": kind in ("danger", "warning"),
            },
        }

    # Real-time updates (models/outlook_subscription.py: constraint and set_values reaction)
    outlook_realtime = fields.Boolean(
        "Real-time updates (change notifications)",
        config_parameter=PARAM_REALTIME,
        help="Microsoft 365 tells Odoo within seconds when an Outlook event changes, and that mailbox syncs at "
        "once; the periodic sync stays as a fallback. Needs a public https URL that Microsoft can reach.",
    )
    outlook_notification_url = fields.Char(
        "Public URL for notifications",
        config_parameter=PARAM_NOTIFICATION_URL,
        help="Where Microsoft sends change notifications (the routes /outlook_calendar_sync/notify and "
        "/outlook_calendar_sync/lifecycle are added to it). Empty: web.base.url.",
    )
