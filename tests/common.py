"""Shared set-up of the Odoo suite: a real emulator per test class, settings pointing at it (STYLE R15)."""

from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from lxml import html

from odoo.tests import new_test_user

from odoo.addons.outlook_calendar_sync.emulator import Emulator
from odoo.addons.outlook_calendar_sync.graph.run import GraphRun
from odoo.addons.outlook_calendar_sync.models import compat
from odoo.addons.outlook_calendar_sync.models.outlook_config import (
    PARAM_AUTHORITY_URL,
    PARAM_CA_BUNDLE,
    PARAM_CLIENT_ID,
    PARAM_CLIENT_SECRET,
    PARAM_CONFIG_ERROR,
    PARAM_GRAPH_URL,
    PARAM_TENANT,
    get_auth_settings,
)

CLIENT_ID = "5f3c1a3e-6d1b-4a43-9c1e-0d6f0c1b2a01"
CLIENT_SECRET = "emulated-client-secret"
ANNA = "anna@contoso.test"
BOB = "bob@contoso.test"
CAROL = "carol@fabrikam.test"  # a mailbox no Odoo user connects: an external organizer


def consent(emulator, auth_uri, decision="accept", account=None):
    """Answer the emulator's consent page as a person would: GET the page, submit the form.

    :return: the URL the emulator redirects the browser to (Odoo's callback with code or error)
    """
    page = requests.get(auth_uri, verify=emulator.ca_path, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    form = html.fromstring(page.text).forms[0]
    data = {name: value for name, value in form.form_values()}
    if account:
        data["account"] = account
    data["decision"] = decision
    answer = requests.post(
        urljoin(auth_uri, form.action or auth_uri),
        data=data,
        verify=emulator.ca_path,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def graph_time(moment, tz="UTC"):
    """A Graph ``dateTimeTimeZone`` of a naive datetime in ``tz``."""
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz}


def query_params(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class OutlookEmulatorMixin:
    """Starts one emulator for the test class and points the Outlook settings at it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = Emulator().start()
        cls.addClassCleanup(cls.emulator.stop)
        cls.emulator.register_app(CLIENT_ID, CLIENT_SECRET, name="Odoo test")
        cls.emulator.add_mailbox(ANNA, display_name="Anna Emulated")
        cls.emulator.add_mailbox(BOB, display_name="Bob Emulated")
        cls.emulator.add_mailbox(CAROL, display_name="Carol External")
        cls.configure_outlook()
        cls.user_anna = new_test_user(cls.env, login="anna_user", name="Anna", email=ANNA, groups="base.group_user")
        cls.user_bob = new_test_user(cls.env, login="bob_user", name="Bob", email=BOB, groups="base.group_user")

    def setUp(self):
        super().setUp()
        if compat.ODOO_19:
            self._run_cron_jobs_in_the_test_transaction()

    def _run_cron_jobs_in_the_test_transaction(self):
        """Odoo 19's ``ir.cron.method_direct_trigger`` runs the job as the scheduler does, on a new cursor: in a
        TransactionCase (no registry test mode) that is another transaction, which sees none of the test's data
        (and commits). The tests' cron runs stay in the test's transaction, as on Odoo 18."""
        cron_class = type(self.env["ir.cron"])
        trigger = cron_class.method_direct_trigger
        case = self

        def method_direct_trigger(cron):
            if type(case)._registry_patched:  # an HttpCase: new cursors already share the test's transaction
                return trigger(cron)
            with case.enter_registry_test_mode():
                return trigger(cron)

        self.startPatcher(patch.object(cron_class, "method_direct_trigger", method_direct_trigger))

    @contextmanager
    def graph_may_call_odoo(self):
        """While this block runs, the emulator may call Odoo's HTTP server (a webhook's validation handshake, change
        notifications). Odoo 19's HttpCase serves only the requests a test allows, and holds the registry's test
        lock in between; Odoo 18 serves any."""
        if compat.ODOO_19 and hasattr(self, "allow_requests"):
            with self.allow_requests(all_requests=True):
                yield
        else:
            yield

    @classmethod
    def configure_outlook(cls, **overrides):
        values = {
            PARAM_CLIENT_ID: CLIENT_ID,
            PARAM_CLIENT_SECRET: CLIENT_SECRET,
            PARAM_TENANT: "common",
            PARAM_AUTHORITY_URL: cls.emulator.authority_url,
            PARAM_GRAPH_URL: cls.emulator.graph_url,
            PARAM_CA_BUNDLE: cls.emulator.ca_path,
            PARAM_CONFIG_ERROR: False,
        }
        values.update(overrides)
        params_sudo = cls.env["ir.config_parameter"].sudo()
        for key, value in values.items():
            params_sudo.set_param(key, value)

    def connect_mailbox(self, user, account=None):
        """Run the real connect flow for ``user`` without a browser: MSAL, consent page, code redemption."""
        mailbox_model = self.env["outlook.mailbox"].with_user(user)
        flow = mailbox_model._outlook_start_connect()
        callback = consent(self.emulator, flow["auth_uri"], account=account or user.email)
        mailbox_model._outlook_finish_connect(flow, query_params(callback))
        return self.env["outlook.mailbox"].search([("user_id", "=", user.id)])


class OutlookSyncCase(OutlookEmulatorMixin):
    """Anna and Bob connected through the real flow; helpers to act in Outlook and run the sync."""

    def setUp(self):
        super().setUp()
        self.mailbox_anna = self.connect_mailbox(self.user_anna)
        self.mailbox_bob = self.connect_mailbox(self.user_bob)
        self.emulator.reset_counters()

    def tearDown(self):
        # the emulator lives for the whole class: leave the next test empty calendars
        for address in (ANNA, BOB, CAROL):
            for item in self.emulator.outlook.list_events(address):
                if item.get("type") != "exception":
                    self.emulator.outlook.delete_event(address, item["id"])
        self.emulator.clear_faults()
        super().tearDown()

    def sync(self, *mailboxes, expect_error=False):
        """One cron-like run for each mailbox, in order."""
        run = GraphRun(get_auth_settings(self.env))
        for mailbox in mailboxes:
            with self.graph_may_call_odoo():  # a new subscription's handshake
                mailbox._outlook_sync_guarded(run)
            mailbox.invalidate_recordset()
            if not expect_error:
                self.assertFalse(mailbox.last_error, mailbox.last_error)
        self.env.invalidate_all()

    @staticmethod
    def tomorrow_at(hour):
        return (datetime.now() + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)

    def outlook_meeting(self, organizer, subject, attendees=(), start=None, hours=1):
        start = start or self.tomorrow_at(9)
        return self.emulator.outlook.create_event(
            organizer,
            {
                "subject": subject,
                "start": graph_time(start),
                "end": graph_time(start + timedelta(hours=hours)),
                "attendees": [
                    {"type": "required", "emailAddress": {"address": a, "name": a.split("@")[0]}} for a in attendees
                ],
            },
        )

    def event_of(self, ical_uid):
        event = self.env["calendar.event"].with_context(active_test=False).search([("outlook_ical_uid", "=", ical_uid)])
        self.assertEqual(len(event), 1, "exactly one Odoo event per meeting")
        return event

    def copy_in(self, address, ical_uid):
        """The copy of a meeting in another mailbox (its own id, same iCalUId)."""
        return next(item for item in self.emulator.outlook.list_events(address) if item["iCalUId"] == ical_uid)
