/** @odoo-module **/

import { AttendeeCalendarController } from "@calendar/views/attendee_calendar/attendee_calendar_controller";
import { user } from "@web/core/user";
import { patch } from "@web/core/utils/patch";

/**
 * The Outlook button of the Calendar view. The server decides what a click does (STYLE R19):
 * go to Microsoft's consent, schedule a sync, or explain what is missing. Nothing runs on render.
 */
patch(AttendeeCalendarController.prototype, {
    get outlookStatus() {
        if (!this.model.credentialStatus?.outlook_calendar_sync) {
            return false;
        }
        return this.model.syncStatus?.outlook_calendar_sync || "disconnected";
    },

    async onOutlookButtonClick() {
        const action = await this.orm.call("res.users", "action_outlook_connect_or_sync", [[user.userId]]);
        await this.actionService.doAction(action);
    },
});
