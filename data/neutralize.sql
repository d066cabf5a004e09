-- A neutralized copy (staging, test restore) must never talk to the production mailboxes.
UPDATE outlook_mailbox SET state = 'disconnected', delta_link = NULL;
DELETE FROM outlook_mailbox_token;
UPDATE ir_cron SET active = false WHERE id IN (
    SELECT res_id FROM ir_model_data WHERE module = 'outlook_calendar_sync' AND model = 'ir.cron'
);
-- ... and never renews or receives the production's change-notification subscriptions.
DELETE FROM outlook_subscription;
DELETE FROM ir_config_parameter WHERE key = 'outlook_calendar_sync.realtime';
