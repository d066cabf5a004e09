/** @odoo-module **/

import { onWillUnmount, useState } from "@odoo/owl";
import { AttendeeCalendarController } from "@calendar/views/attendee_calendar/attendee_calendar_controller";
import { AttendeeCalendarCommonRenderer } from "@calendar/views/attendee_calendar/common/attendee_calendar_common_renderer";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";

const PROGRESS = "outlook_calendar_sync/progress";

/**
 * Events whose Outlook sync failed are marked in the calendar (a class and an icon). The status comes
 * with the events themselves (the calendar view's `outlook_status` field): nothing is asked on render.
 */
patch(AttendeeCalendarCommonRenderer.prototype, {
    eventClassNames({ event }) {
        const classes = super.eventClassNames(...arguments);
        const status = this.props.model.records[event.id]?.rawRecord.outlook_status;
        if (status === "error" || status === "conflict") {
            classes.push(`o_outlook_sync_${status}`);
        }
        return classes;
    },
});

/**
 * The Outlook button also shows a paused sync and the progress of a long import. The progress arrives
 * on the bus, page by page, from the sync cron (the browser never waits for the sync).
 */
patch(AttendeeCalendarController.prototype, {
    setup() {
        super.setup(...arguments);
        this.outlookLive = useState({ progress: null });
        const bus = useService("bus_service");
        const onProgress = (progress) => {
            this.outlookLive.progress = progress;
        };
        bus.subscribe(PROGRESS, onProgress);
        onWillUnmount(() => bus.unsubscribe(PROGRESS, onProgress));
    },

    get outlookProgress() {
        const progress = this.outlookLive.progress || this.model.syncStatus?.outlook_calendar_sync_progress;
        return progress?.running ? progress : null;
    },

    get outlookProgressTitle() {
        const progress = this.outlookProgress;
        return _t("Importing your Outlook calendar: %(done)s of about %(total)s items", {
            done: progress.done,
            total: progress.total,
        });
    },
});
