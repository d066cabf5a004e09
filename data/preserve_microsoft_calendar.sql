-- Keep what Odoo's built-in Outlook sync (microsoft_calendar + microsoft_account) knows, BEFORE uninstalling it:
-- uninstalling drops its columns. outlook_calendar_sync reads these tables when it is installed (post_init_hook) and
-- its first sync adopts the meetings by iCalUId: no duplicate, nothing sent to Outlook, no mail.
--
--     psql -d DATABASE -v ON_ERROR_STOP=1 -f data/preserve_microsoft_calendar.sql
-- or  python3 tools/preserve_microsoft_calendar.py -c /etc/odoo/odoo.conf -d DATABASE     (same SQL, with a report)
--
-- Idempotent: running it again refreshes the rows (run it last, right before the uninstall). Plain PostgreSQL, no
-- Odoo needed. The tables are not Odoo models: Odoo never drops them; the add-on clears the refresh tokens as soon
-- as it has read them.

CREATE TABLE IF NOT EXISTS outlook_builtin_event (
    model varchar NOT NULL,                 -- calendar.event or calendar.recurrence
    res_id integer NOT NULL,
    microsoft_id varchar,                   -- the built-in's Outlook id (organizer's copy, not an immutable id)
    ical_uid varchar,                       -- the meeting's iCalUId: what the first sync matches on
    need_sync boolean,                      -- a change the built-in had not sent to Outlook yet
    preserved_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    PRIMARY KEY (model, res_id)
);

CREATE TABLE IF NOT EXISTS outlook_builtin_user (
    user_id integer PRIMARY KEY,
    refresh_token varchar,                  -- res.users.microsoft_calendar_rtoken (cleared once read)
    sync_token varchar,                     -- res.users.settings.microsoft_calendar_sync_token (kept for reference)
    last_sync_date timestamp,
    sync_stopped boolean,                   -- the user had stopped the built-in's sync: not connected again
    preserved_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS outlook_builtin_param (
    key varchar PRIMARY KEY,                -- microsoft_calendar_client_id, microsoft_calendar_client_secret, ...
    value text,
    preserved_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

DO $$
DECLARE
    has_column boolean;
BEGIN
    -- events and recurrences: microsoft_calendar's microsoft_id / ms_universal_event_id / need_sync_m
    SELECT count(*) = 2 INTO has_column FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'calendar_event'
       AND column_name IN ('microsoft_id', 'ms_universal_event_id');
    IF has_column THEN
        INSERT INTO outlook_builtin_event (model, res_id, microsoft_id, ical_uid, need_sync)
        SELECT 'calendar.event', id, microsoft_id, ms_universal_event_id, coalesce(need_sync_m, false)
          FROM calendar_event
         WHERE microsoft_id IS NOT NULL OR ms_universal_event_id IS NOT NULL
        ON CONFLICT (model, res_id) DO UPDATE
           SET microsoft_id = EXCLUDED.microsoft_id, ical_uid = EXCLUDED.ical_uid,
               need_sync = EXCLUDED.need_sync, preserved_at = EXCLUDED.preserved_at;
    ELSE
        RAISE NOTICE 'calendar_event has no microsoft_id/ms_universal_event_id: microsoft_calendar is not installed';
    END IF;
    SELECT count(*) = 2 INTO has_column FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'calendar_recurrence'
       AND column_name IN ('microsoft_id', 'ms_universal_event_id');
    IF has_column THEN
        INSERT INTO outlook_builtin_event (model, res_id, microsoft_id, ical_uid, need_sync)
        SELECT 'calendar.recurrence', id, microsoft_id, ms_universal_event_id, coalesce(need_sync_m, false)
          FROM calendar_recurrence
         WHERE microsoft_id IS NOT NULL OR ms_universal_event_id IS NOT NULL
        ON CONFLICT (model, res_id) DO UPDATE
           SET microsoft_id = EXCLUDED.microsoft_id, ical_uid = EXCLUDED.ical_uid,
               need_sync = EXCLUDED.need_sync, preserved_at = EXCLUDED.preserved_at;
    END IF;

    -- users: microsoft_account's refresh token on res_users, microsoft_calendar's sync state on res_users_settings
    SELECT count(*) = 1 INTO has_column FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'res_users'
       AND column_name = 'microsoft_calendar_rtoken';
    IF has_column THEN
        INSERT INTO outlook_builtin_user (user_id, refresh_token)
        SELECT id, microsoft_calendar_rtoken FROM res_users WHERE microsoft_calendar_rtoken IS NOT NULL
        ON CONFLICT (user_id) DO UPDATE
           SET refresh_token = EXCLUDED.refresh_token, preserved_at = EXCLUDED.preserved_at;
    END IF;
    SELECT count(*) = 3 INTO has_column FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'res_users_settings'
       AND column_name IN ('microsoft_calendar_sync_token', 'microsoft_synchronization_stopped',
                              'microsoft_last_sync_date');
    IF has_column THEN
        INSERT INTO outlook_builtin_user (user_id, sync_token, last_sync_date, sync_stopped)
        SELECT user_id, microsoft_calendar_sync_token, microsoft_last_sync_date,
               coalesce(microsoft_synchronization_stopped, false)
          FROM res_users_settings
         WHERE microsoft_calendar_sync_token IS NOT NULL OR microsoft_last_sync_date IS NOT NULL
            OR microsoft_synchronization_stopped
        ON CONFLICT (user_id) DO UPDATE
           SET sync_token = EXCLUDED.sync_token, last_sync_date = EXCLUDED.last_sync_date,
               sync_stopped = EXCLUDED.sync_stopped, preserved_at = EXCLUDED.preserved_at;
    END IF;
END
$$;

-- the Azure app of the built-in (the same app works for outlook_calendar_sync: same redirect URI) and its switches
INSERT INTO outlook_builtin_param (key, value)
SELECT key, value FROM ir_config_parameter
 WHERE key IN ('microsoft_calendar_client_id', 'microsoft_calendar_client_secret', 'microsoft_calendar_sync_paused')
    OR key LIKE 'microsoft_calendar.%'
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, preserved_at = EXCLUDED.preserved_at;
