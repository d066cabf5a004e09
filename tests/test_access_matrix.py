"""The access matrix: every model of the add-on, every field, every operation, as four users, against ONE table.

For each model the add-on defines (introspected from the registry) and each field the add-on adds to
``res.users`` and ``res.config.settings``, every field is tried with every operation as the administrator, the
owner of the record (an internal user: Anna), another internal user (Bob, who has his own mailbox) and a
portal user; so is each public ``action_*`` method, and each wizard. The answers must be exactly those of
:data:`MATRIX`. A model or field of the add-on without a row fails the test, and so does a row whose model or
field does not exist any more: adding a field means deciding, here, who may see and change it.

Each operation starts from an empty cache (as an RPC does) and runs in a savepoint that is rolled back.

Reading the table: one row per model and field(s) (several fields with the same answers may share a row); the
four cells are admin, owner, other internal user, portal user. A field's cell has one letter per operation:

    R  read([field])                         D  search_read([..., (field, "=", value)], [field])
    S  search([..., (field, "=", value)])    O  search([...], order=field)
    G  read_group([...], [field], [field])   W  write({field: its value})
    C  create({...template, field: value})

A ``*`` row is the model itself: S search([("id", "=", record)]), C create(template), U unlink(). A
``method()`` row has one letter: the method called on the record. The letters:

    y  allowed: the true value, or the record found      m  allowed, but the value is masked (not the true one)
    h  it runs, but the record is not in the answer      -  refused: AccessError
    !  refused with a message (UserError, ValidationError)
    .  does not apply (fails for the superuser too, for another reason than access: e.g. a computed field
       cannot be ordered by)
"""

import inspect
import logging
from datetime import datetime

from psycopg2 import Error as DatabaseError

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.outlook_calendar_sync.models import compat

from .common import ANNA, OutlookEmulatorMixin, consent, query_params

_logger = logging.getLogger(__name__)

ADDON = "outlook_calendar_sync"
ROLES = ("admin", "owner", "other", "portal")
FIELD_OPS = "RSDOGWC"
MODEL_OPS = "SCU"
# models the add-on extends whose add-on fields the matrix covers (the others: see NOT_COVERED)
EXTENDED = ("res.users", "res.config.settings")
# models the add-on extends but whose records follow their own module's rules, with why they are not here
NOT_COVERED = {
    "calendar.event": "Odoo Calendar's own rules (events are shared, private ones masked by calendar)",
    "calendar.recurrence": "Odoo Calendar's own rules (follows its events)",
}
MAGIC = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}

# fmt: off
MATRIX = """
# model                     field(s) or method()                                 admin    owner    other    portal
outlook.dashboard           *                                                    y--      ---      ---      ---
outlook.dashboard           address errors_24h import_done import_progress       yyyyy--  -------  -------  -------
outlook.dashboard           import_running import_total last_error               yyyyy--  -------  -------  -------
outlook.dashboard           last_error_short last_sync_at linked_count           yyyyy--  -------  -------  -------
outlook.dashboard           mailbox_id paused_by_admin state state_sequence      yyyyy--  -------  -------  -------
outlook.dashboard           user_id user_name                                    yyyyy--  -------  -------  -------
outlook.dashboard           action_outlook_open()                                y        -        -        -
outlook.dashboard           action_outlook_pause()                               y        -        -        -
outlook.dashboard           action_outlook_pause_all()                           y        -        -        -
outlook.dashboard           action_outlook_reset()                               y        -        -        -
outlook.dashboard           action_outlook_resume()                              y        -        -        -
outlook.dashboard           action_outlook_resume_all()                          y        -        -        -
outlook.dashboard           action_outlook_stop()                                y        -        -        -
outlook.dashboard           action_outlook_sync_log()                            y        -        -        -
outlook.dashboard           held_messages                                        y......  -......  -......  -......
outlook.dashboard           action_outlook_held()                                y        -        -        -
outlook.held.batch          *                                                    yyy      y--      h--      ---
outlook.held.batch          confirmed_at confirmed_by confirmed_messages         yyyyyyy  yyyyy--  -hhhh--  -------
outlook.held.batch          decided_note mailbox_id state threshold user_id      yyyyyyy  yyyyy--  -hhhh--  -------
outlook.held.batch          cancellation_count event_count invitation_count name y......  y......  -......  -......
outlook.held.batch          message_count recipient_count send_label sent_count  y......  y......  -......  -......
outlook.held.batch          update_count                                         y......  y......  -......  -......
outlook.held.batch          line_ids                                             yyy..yy  yyy..--  -hh..--  ---..--
outlook.held.batch          action_outlook_discard_held()                        y        y        -        -
outlook.held.batch          action_outlook_send_held()                           y        y        -        -
outlook.held.line           *                                                    yyy      y--      h--      ---
outlook.held.line           action addresses batch_id cancellations event_id     yyyyyyy  yyyyy--  -hhhh--  -------
outlook.held.line           invitations is_series link_id mailbox_id note        yyyyyyy  yyyyy--  -hhhh--  -------
outlook.held.line           message_count name recipients recurrence_id start    yyyyyyy  yyyyy--  -hhhh--  -------
outlook.held.line           series_link_id state updates                         yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          *                                                    yyy      y--      h--      ---
outlook.event.link          attendees_capped cancel_allowed change_key graph_id  yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          is_organizer_copy last_error last_modified           yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          mailbox_id outlook_remove_remote remote_hash         yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          response_state seen_round state synced_data          yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          failed_reads next_retry_at synced_hash               yyyyyyy  yyyyy--  -hhhh--  -------
outlook.event.link          event_id                                             yyyyyy.  yyyyy--  -hhhh--  -------
outlook.event.link          user_id                                              yyyyy..  yyyyy..  -hhhh..  -----..
outlook.mailbox             *                                                    yyy      y--      h--      ---
outlook.mailbox             address category_colors connected_at delta_round     yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             delta_round_full delta_window_end delta_window_start yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             first_connected_at graph_user_id import_done         yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             import_running import_total last_attempt_at          yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             last_error last_sync_at paused_by_admin state        yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             sync_requested_at throttled_until user_id            yyyyyyy  yyyyy--  -hhhh--  -------
outlook.mailbox             delta_link                                           yyyyyyy  -------  -------  -------
outlook.mailbox             errors_24h linked_count                              y......  y......  -......  -......
outlook.mailbox             link_ids                                             yyy..yy  yyy..--  -hh..--  ---..--
# (subscription_ids, S: Odoo checks no field group in a domain on an x2many's ids; the ids are no secret)
outlook.mailbox             subscription_ids                                     yyy..yy  -y-..--  -h-..--  ---..--
outlook.mailbox             held_batch_ids                                       yyy..yy  yyy..--  -hh..--  ---..--
outlook.mailbox             held_message_count                                   y......  y......  -......  -......
outlook.mailbox             action_outlook_held()                                y        y        -        -
outlook.mailbox             action_outlook_disconnect()                          y        y        -        -
outlook.mailbox             action_outlook_pause()                               y        y        -        -
outlook.mailbox             action_outlook_pause_all()                           y        -        -        -
outlook.mailbox             action_outlook_reset()                               y        y        -        -
# (the fixture fills every empty field: Anna's mailbox is paused_by_admin, so only an admin resumes it)
outlook.mailbox             action_outlook_resume()                              y        -        -        -
outlook.mailbox             action_outlook_resume_all()                          y        -        -        -
outlook.mailbox             action_outlook_stop()                                y        y        -        -
# (tokens: no access right for anybody, administrators included; only the add-on's token path reads and writes them)
outlook.mailbox.token       *                                                    ---      ---      ---      ---
outlook.mailbox.token       builtin_refresh_token cache mailbox_id               -------  -------  -------  -------
outlook.notification.inbox  *                                                    y-y      ---      ---      ---
outlook.notification.inbox  accepted mailbox_id received_at rejected             yyyyy--  -------  -------  -------
outlook.notification.inbox  subscription_id wants_sync                           yyyyy--  -------  -------  -------
outlook.reset.wizard        *                                                    hy-      yy-      h--      ---
outlook.reset.wizard        address linked_count organized_count user_id         -......  y......  -......  -......
# (a wizard is its creator's only, for admins too; the owner's own pending reset is hers to change)
outlook.reset.wizard        mailbox_id remove_remote                             -hhhh-y  yyyyyyy  -hhhh--  -------
outlook.reset.wizard        action_confirm()                                     -        y        -        -
outlook.series.link         *                                                    yyy      y--      h--      ---
outlook.series.link         change_key graph_id ical_uid is_organizer_copy       yyyyyyy  yyyyy--  -hhhh--  -------
outlook.series.link         last_error mailbox_id pending recurrence_id state    yyyyyyy  yyyyy--  -hhhh--  -------
outlook.series.link         synced_data synced_rule truncate_before              yyyyyyy  yyyyy--  -hhhh--  -------
outlook.subscription        *                                                    yyy      ---      ---      ---
outlook.subscription        client_state expiration graph_id last_error          yyyyyyy  -------  -------  -------
outlook.subscription        last_notification_at mailbox_id notification_count   yyyyyyy  -------  -------  -------
outlook.subscription        notification_url rejected_count state                yyyyyyy  -------  -------  -------
outlook.subscription        user_id                                              yyyyy..  -----..  -----..  -----..
outlook.sync.log            *                                                    yyy      y--      h--      ---
outlook.sync.log            created_in created_out deleted_in deleted_out        yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            direction duration errors event_id finished_at       yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            graph_id graph_requests kind mailbox_id message      yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            retry_requested_at started_at updated_in updated_out yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            user_id                                              yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            moved_in moved_out summary                           y......  y......  -......  -......
outlook.sync.log            state                                                yyyyyyy  yyyyy--  -hhhh--  -------
outlook.sync.log            action_outlook_retry()                               y        y        -        -
outlook.sync.log            action_outlook_retry_recent()                        y        y        y        -
res.users                   *                                                    yyy      y--      y--      h--
res.users                   outlook_category_mode outlook_direction              yyyyyyy  yyyyyy-  yyyyy--  -hhhh--
res.users                   outlook_import_progress outlook_last_error           y......  y......  m......  -......
res.users                   outlook_last_sync_at outlook_mailbox_address         y......  y......  m......  -......
res.users                   outlook_sync_state                                   y......  y......  m......  -......
res.users                   outlook_mailbox_ids                                  yyy..yy  yyy..--  mym..--  -hh..--
res.users                   outlook_may_choose_categories                        y......  y......  y......  -......
res.users                   outlook_may_choose_direction outlook_paused_by_admin y......  y......  y......  -......
res.users                   outlook_held_messages                                y......  y......  m......  -......
res.users                   action_outlook_held()                                y        y        y        y
res.users                   action_outlook_connect_or_sync()                     y        y        y        y
res.users                   action_outlook_disconnect()                          y        y        y        -
res.users                   action_outlook_pause()                               y        y        y        -
res.users                   action_outlook_reset()                               y        y        y        -
res.users                   action_outlook_resume()                              y        -        y        -
res.users                   action_outlook_sync_log()                            y        y        y        y
res.config.settings         *                                                    yy-      ---      ---      ---
res.config.settings         outlook_allow_copies outlook_attendee_cap            yyyyyyy  -------  -------  -------
res.config.settings         outlook_authority_url outlook_ca_bundle              yyyyyyy  -------  -------  -------
res.config.settings         outlook_category outlook_category_mode               yyyyyyy  -------  -------  -------
res.config.settings         outlook_client_id outlook_client_secret              yyyyyyy  -------  -------  -------
res.config.settings         outlook_color_categories outlook_conflict_winner     yyyyyyy  -------  -------  -------
res.config.settings         outlook_delete_from_odoo outlook_delete_from_outlook yyyyyyy  -------  -------  -------
res.config.settings         outlook_description_policy outlook_direction         yyyyyyy  -------  -------  -------
res.config.settings         outlook_filter_removal outlook_fixed_categories      yyyyyyy  -------  -------  -------
res.config.settings         outlook_fixed_direction outlook_future_days          yyyyyyy  -------  -------  -------
res.config.settings         outlook_future_days_in outlook_graph_url             yyyyyyy  -------  -------  -------
res.config.settings         outlook_import_declined outlook_inactive_after_days  yyyyyyy  -------  -------  -------
res.config.settings         outlook_initial_days outlook_internal_events         yyyyyyy  -------  -------  -------
res.config.settings         outlook_lock_after_days outlook_log_days             yyyyyyy  -------  -------  -------
res.config.settings         outlook_notification_url outlook_past_days           yyyyyyy  -------  -------  -------
res.config.settings         outlook_past_grace_days outlook_private_events       yyyyyyy  -------  -------  -------
res.config.settings         outlook_push_existing_events outlook_realtime        yyyyyyy  -------  -------  -------
res.config.settings         outlook_silent_responses outlook_skip_unanswered     yyyyyyy  -------  -------  -------
res.config.settings         outlook_sync_filter outlook_sync_interval            yyyyyyy  -------  -------  -------
res.config.settings         outlook_tenant outlook_unmatched_events              yyyyyyy  -------  -------  -------
res.config.settings         outlook_invitation_budget                            yyyyyyy  -------  -------  -------
res.config.settings         outlook_client_secret_set outlook_config_error       y......  -......  -......  -......
res.config.settings         outlook_redirect_uri                                 y......  -......  -......  -......
res.config.settings         action_outlook_test_connection()                     y        -        -        -
"""
# fmt: on


# What Odoo 19 answers differently from the table above, and why; the rest of the table holds on both majors.
MATRIX_19 = """
# (Odoo 19 cannot search or search_read a Json field by value: "does not apply", for everybody)
outlook.event.link          synced_data                                          y..yyyy  y..yy--  -..hh--  -------
outlook.held.line           addresses                                            y..yyyy  y..yy--  -..hh--  -------
outlook.series.link         synced_data synced_rule                              y..yyyy  y..yy--  -..hh--  -------
# (Odoo 19 checks the field's group in a domain on an x2many too: the owner may no longer search by it)
outlook.mailbox             subscription_ids                                     yyy..yy  ---..--  ---..--  ---..--
"""


def expected_matrix():
    """:data:`MATRIX` with the running major's differences applied."""
    table = parse_matrix(MATRIX)
    if compat.ODOO_MAJOR >= 19:
        table.update(parse_matrix(MATRIX_19))
    return table


def parse_matrix(text):
    """``{(model, name): {role: cell}}`` of :data:`MATRIX`; a name is a field, ``*`` or ``method()``."""
    table = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        model, names, cells = words[0], words[1:-4], words[-4:]
        assert names and len(cells) == 4, f"MATRIX line {number}: model, name(s), then four cells"
        for name in names:
            assert (model, name) not in table, f"MATRIX line {number}: {model} {name} twice"
            table[model, name] = dict(zip(ROLES, cells, strict=True))
    return table


def is_refusal(exc):
    return isinstance(exc, UserError | ValidationError) and not isinstance(exc, AccessError)


@tagged("post_install", "-at_install")
class TestAccessMatrix(OutlookEmulatorMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.admin = env.ref("base.user_admin")
        cls.portal = new_test_user(env, login="matrix_portal", name="Pat Portal", groups="base.group_portal")
        cls.spare = new_test_user(env, login="matrix_spare", name="Sam Spare", groups="base.group_user")
        cls.users = {"admin": cls.admin, "owner": cls.user_anna, "other": cls.user_bob, "portal": cls.portal}
        mailbox_anna, mailbox_bob = cls.connect(cls.user_anna), cls.connect(cls.user_bob)
        sudo = env(su=True)
        start = datetime(2026, 11, 23, 9, 0)
        event = sudo["calendar.event"].create(
            {"name": "Anna's meeting", "start": start, "stop": start.replace(hour=10), "user_id": cls.user_anna.id}
        )
        subscription = sudo["outlook.subscription"].create(
            {"mailbox_id": mailbox_anna.id, "graph_id": "matrix-subscription", "state": "active"}
        )
        now = fields.Datetime.now()
        held_batch = sudo["outlook.held.batch"].create({"mailbox_id": mailbox_anna.id})
        cls.targets = {  # the record of each model the matrix tries: Anna's
            "outlook.mailbox": mailbox_anna,
            "outlook.event.link": sudo["outlook.event.link"].create(
                {"mailbox_id": mailbox_anna.id, "event_id": event.id, "graph_id": "matrix-link"}
            ),
            "outlook.series.link": sudo["outlook.series.link"].create(
                {"mailbox_id": mailbox_anna.id, "graph_id": "matrix-series"}
            ),
            "outlook.sync.log": sudo["outlook.sync.log"].create(
                {"mailbox_id": mailbox_anna.id, "started_at": now, "state": "error", "message": "Anna's error"}
            ),
            "outlook.subscription": subscription,
            "outlook.notification.inbox": sudo["outlook.notification.inbox"].create(
                {"subscription_id": subscription.id, "mailbox_id": mailbox_anna.id, "received_at": now, "accepted": 1}
            ),
            "outlook.reset.wizard": env["outlook.reset.wizard"]
            .with_user(cls.user_anna)
            .create({"mailbox_id": mailbox_anna.id}),
            "outlook.mailbox.token": sudo["outlook.mailbox.token"].search([("mailbox_id", "=", mailbox_anna.id)]),
            "outlook.held.batch": held_batch,
            "outlook.held.line": sudo["outlook.held.line"].create(
                {"batch_id": held_batch.id, "event_id": event.id, "name": "Anna's meeting", "action": "patch"}
            ),
            "outlook.dashboard": env["outlook.dashboard"].browse(cls.user_anna.id),
            "res.users": cls.user_anna,
            "res.config.settings": env["res.config.settings"].with_user(cls.admin).create({}),
        }
        cls.templates = {  # what create() needs besides the field tried
            "outlook.mailbox": {"user_id": cls.spare.id},
            "outlook.event.link": {"mailbox_id": mailbox_anna.id, "graph_id": "matrix-new-link"},
            "outlook.series.link": {"mailbox_id": mailbox_anna.id, "graph_id": "matrix-new-series"},
            "outlook.sync.log": {
                "mailbox_id": mailbox_anna.id,
                "user_id": cls.user_anna.id,
                "started_at": now,
                "state": "success",
            },
            "outlook.subscription": {"mailbox_id": mailbox_bob.id},
            "outlook.notification.inbox": {
                "subscription_id": subscription.id,
                "mailbox_id": mailbox_anna.id,
                "received_at": now,
            },
            "outlook.reset.wizard": {"mailbox_id": mailbox_anna.id},
            "outlook.mailbox.token": {"mailbox_id": mailbox_bob.id},
            "outlook.held.batch": {"mailbox_id": mailbox_anna.id},
            "outlook.held.line": {"batch_id": held_batch.id},
            "outlook.dashboard": {},
            "res.users": {"name": "Matrix New", "login": "matrix_new"},
            "res.config.settings": {},
        }
        cls.fill(sudo)

    @classmethod
    def connect(cls, user):
        model = cls.env["outlook.mailbox"].with_user(user)
        flow = model._outlook_start_connect()
        model._outlook_finish_connect(flow, query_params(consent(cls.emulator, flow["auth_uri"], account=user.email)))
        return cls.env["outlook.mailbox"].search([("user_id", "=", user.id)])

    @classmethod
    def fill(cls, sudo):
        """Give every empty stored field of the targets a value: a masked value must differ from the true one."""
        for model, record in cls.targets.items():
            record = record.with_env(sudo)
            values = {}
            for name, field in record._fields.items():
                if not field.store or field.compute or field.related or name in MAGIC or record[name]:
                    continue
                if field.type in ("char", "text", "html"):
                    values[name] = f"{model}.{name} of {ANNA}"
                elif field.type in ("integer", "float"):
                    values[name] = 7
                elif field.type == "boolean":
                    values[name] = True
                elif field.type == "datetime":
                    values[name] = fields.Datetime.now()
                elif field.type == "date":
                    values[name] = fields.Date.today()
                elif field.type == "json":
                    values[name] = {"of": ANNA}
            if values and model not in ("outlook.dashboard", "res.users", "res.config.settings"):
                record.write(values)
        sudo.flush_all()

    # ------------------------------------------------------------
    # what exists
    # ------------------------------------------------------------

    def covered_models(self):
        own = [name for name, model in self.env.registry.items() if model._original_module == ADDON]
        return sorted(own) + list(EXTENDED)

    def addon_fields(self, model):
        fields_ = self.env[model]._fields
        return sorted(name for name, field in fields_.items() if ADDON in (field._modules or ()) and name not in MAGIC)

    def addon_methods(self, model):
        cls = type(self.env[model])
        return sorted(
            name
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if name.startswith("action_") and member.__module__.startswith(f"odoo.addons.{ADDON}.")
        )

    def test_every_model_and_field_of_the_addon_has_a_row(self):
        extended = {
            name
            for name, model in self.env.registry.items()
            if model._original_module != ADDON and any(ADDON in (f._modules or ()) for f in model._fields.values())
        }
        unknown = extended - set(EXTENDED) - set(NOT_COVERED)
        self.assertFalse(unknown, f"models the add-on extends, neither in EXTENDED nor in NOT_COVERED: {unknown}")
        table = expected_matrix()
        expected = set()
        for model in self.covered_models():
            self.assertIn(model, self.targets, f"{model}: give the matrix a record of it (targets) and a template")
            expected |= {(model, "*")}
            expected |= {(model, name) for name in self.addon_fields(model)}
            expected |= {(model, f"{name}()") for name in self.addon_methods(model)}
        missing = sorted(expected - set(table))
        stale = sorted(set(table) - expected)
        self.assertFalse(missing, "rows to add to MATRIX:\n" + "\n".join(f"{m} {n}" for m, n in missing))
        self.assertFalse(stale, "MATRIX rows of nothing: " + ", ".join(f"{m} {n}" for m, n in stale))

    # ------------------------------------------------------------
    # the matrix
    # ------------------------------------------------------------

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule", "odoo.sql_db")
    def test_the_matrix(self):
        table = expected_matrix()
        actual, mismatches, cells = {}, [], 0
        for model in self.covered_models():
            names = ["*", *self.addon_fields(model), *[f"{name}()" for name in self.addon_methods(model)]]
            for name in names:
                actual[model, name] = answers = {
                    role: self.cell(model, name, user) for role, user in self.users.items()
                }
                cells += sum(len(cell) for cell in answers.values())
                if table.get((model, name)) != answers:
                    mismatches.append((model, name, table.get((model, name)), answers))
        report = "\n".join(
            f"{model:<29} {name:<55} " + "  ".join(f"{answers[role]:<7}" for role in ROLES)
            for model, name, _expected, answers in mismatches
        )
        if mismatches:
            self.fail(f"{len(mismatches)} rows differ from MATRIX; what they answer now:\n{report}")
        _logger.info("access matrix: %s rows, %s answers", len(actual), cells)

    def cell(self, model, name, user):
        if name == "*":
            return "".join(self.model_op(model, op, user) for op in MODEL_OPS)
        if name.endswith("()"):
            target = self.targets[model]
            return self.checked(lambda m: getattr(m.browse(target.id), name[:-2])(), lambda _r: "y", user)
        true = self.true_value(model, name)
        return "".join(self.field_op(model, name, op, user, true) for op in FIELD_OPS)

    def attempt(self, operation, answer):
        """Run ``operation`` in a savepoint rolled back afterwards, from an empty cache (as an RPC): its letter,
        or the exception that is not about rights."""
        self.env.invalidate_all()
        try:
            with self.env.cr.savepoint(flush=False) as savepoint:
                letter = answer(operation())
                self.env.flush_all()
                savepoint.rollback()
                return letter
        except AccessError:
            return "-"
        except (UserError, ValidationError):
            return "!"
        except (ValueError, TypeError, KeyError, NotImplementedError, DatabaseError) as exc:
            return exc
        finally:
            self.env.cr.clear()  # what the operation left in the cache or to write goes with the savepoint

    def checked(self, operation, answer, user):
        """The letter of ``operation(the model as user)``: ``.`` when it fails for another reason than rights
        and fails for the superuser too, ``?`` when only the user gets such an error (look at it)."""
        model = self.env[self.current_model]
        letter = self.attempt(lambda: operation(model.with_user(user)), answer)
        if isinstance(letter, str):
            return letter
        superuser = self.attempt(lambda: operation(model.sudo()), answer)
        return "." if not isinstance(superuser, str) else "?"

    def model_op(self, model, op, user):
        self.current_model = model
        target_id = self.targets[model].id
        if op == "S":
            return self.checked(
                lambda m: m.search([("id", "=", target_id)]),
                lambda records: "y" if target_id in records.ids else "h",
                user,
            )
        if op == "C":
            return self.checked(lambda m: m.create(dict(self.templates[model])), lambda _r: "y", user)
        return self.checked(lambda m: m.browse(target_id).unlink(), lambda _r: "y", user)

    def true_value(self, model, name):
        self.current_model = model
        self.env.invalidate_all()
        return self.targets[model].sudo()[name]

    def field_op(self, model, name, op, user, true):
        self.current_model = model
        field = self.env[model]._fields[name]
        plain = self.plain(field, true)
        target_id = self.targets[model].id
        if field.type in ("one2many", "many2many"):
            condition = (name, "in", true.ids) if true else (name, "=", False)
            written = [Command.set(true.ids)]
        else:
            condition = (name, "=", plain)
            written = plain
        domain = [("id", "=", target_id), condition]

        def same(value):
            return "y" if self.plain(field, value) == plain else "m"

        def found(records):
            return "y" if target_id in records.ids else "h"

        operations = {
            "R": (lambda m: m.browse(target_id).read([name])[0][name], same),
            "S": (lambda m: m.search(domain), found),
            "D": (lambda m: m.search_read(domain, [name]), lambda rows: same(rows[0][name]) if rows else "h"),
            "O": (lambda m: m.search([("id", "=", target_id)], order=name), found),
            "G": (
                lambda m: m.read_group([("id", "=", target_id)], [name], [name], lazy=False),
                lambda groups: "y" if groups and groups[0]["__count"] == 1 else "h",
            ),
            "W": (lambda m: m.browse(target_id).write({name: written}), lambda _r: "y"),
            "C": (lambda m: m.create({name: written, **self.templates[model]}), lambda _r: "y"),
        }
        if not self.applies(field, op):
            return "."
        operation, answer = operations[op]
        return self.checked(operation, answer, user)

    def applies(self, field, op):
        """What Odoo itself says of the field (a domain on a field that cannot be searched is ignored, not
        refused: it would look allowed)."""
        if op in "SD":
            return bool(field.store or field.search)
        if op == "O":
            return field._description_sortable(self.env)
        if op == "G":
            return field._description_groupable(self.env)
        if op in "WC":
            return bool(field.store or field.inverse)
        return True

    @staticmethod
    def plain(field, value):
        """A value as a domain and write() take it; read()'s answers compare with it."""
        if field.type == "many2one":
            if isinstance(value, tuple | list):
                return value[0] if value else False
            return value.id if value else False
        if field.type in ("one2many", "many2many"):
            return sorted(value if isinstance(value, list) else value.ids)
        return value
