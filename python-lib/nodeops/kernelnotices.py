"""Kernel owners told before their kernels go (cull-kernels ``warn_hours``, issue 17).

A session the rules do not cull now but will within ``warn_hours`` (exempt users and projects never:
:func:`nodeops.culling.decide` keeps them at any time) gets one plain-text mail to its owner's
address from the DSS user record, through a mail channel (``DSSMailMessagingChannel.send``). Which
sessions were told is remembered in a variable of the project the operation runs in, holding only
sessions still alive, so a session is never told twice. A failure to send is reported and never
stops the cull; a dry run sends nothing and says who would be told.
"""

import datetime as _dt
from dataclasses import replace

from . import adminsetup, dssapi
from .errors import Unavailable

#: The project variable (of the project the step or macro runs in) remembering who was told.
STATE_VARIABLE = "node_ops_kernel_notices"


def eligible_in(s, params, decide, warn_hours):
    """Hours until session ``s`` becomes eligible for culling, within ``warn_hours``: ``(hours, why)``;
    None when it is eligible already, or will not be within ``warn_hours``. The time rules (idle,
    age, busy) are the ones that change with time: the moment is one of their thresholds."""
    if warn_hours <= 0 or decide(s, params)[0]:
        return None

    def later(h):
        return replace(s, idle_hours=None if s.idle_hours is None else s.idle_hours + h,
                       age_hours=None if s.age_hours is None else s.age_hours + h,
                       busy_hours=None if s.busy_hours is None else s.busy_hours + h)

    thresholds = []
    for limit, value in ((params.max_idle_hours, s.idle_hours), (params.max_age_hours, s.age_hours),
                         (params.max_busy_hours, s.busy_hours)):
        if limit > 0 and value is not None and 0 <= limit - value <= warn_hours:
            thresholds.append(limit - value)
    for h in sorted(thresholds):
        kill, why = decide(later(h + 1e-6), params)
        if kill:
            return h, why
    return None


def message(s, hours, why, now, project_key):
    """(subject, body) of the notice for session ``s``."""
    when = (now + _dt.timedelta(hours=hours)).astimezone(_dt.timezone.utc)
    subject = "DSS: your notebook %s in %s will be unloaded" % (s.notebook, s.project)
    body = ("Hello %s,\n\n"
            "Your Jupyter notebook \"%s\" in the DSS project %s has a kernel that will be unloaded by the "
            "kernel culling of this instance from %s UTC (in %.1f hours), because then: %s.\n\n"
            "Unsaved variables in the kernel will be lost (the notebook itself is kept).\n\n"
            "To keep it: use the notebook before then (running a cell resets its idle time), or ask a DSS "
            "administrator for an exemption.\n\n"
            "This notice is sent once for this session (by node-ops, from project %s).\n"
            % (s.owner, s.notebook, s.project, when.strftime("%Y-%m-%d %H:%M"), hours, why, project_key))
    return subject, body


def pick_channel(client, wanted):
    """``(channel id or None, note or None)``: the named mail channel or the instance's first one."""
    channels = dssapi.messaging_channels(client)
    if channels is None:
        if wanted:
            return wanted, None  # this DSS cannot list them: the send says whether it is a mail channel
        return None, "this DSS cannot list its messaging channels: set notify_channel to a mail channel id"
    mail = [c["id"] for c in channels if dssapi.is_mail_channel(c)]
    if wanted:
        if wanted not in mail:
            return None, ("notify_channel %r is not a mail channel of this instance (its mail channels: %s)"
                          % (wanted, ", ".join(mail) or "none"))
        return wanted, None
    if not mail:
        return None, "this instance has no mail channel (Administration > Settings > Notifications & Integrations)"
    return mail[0], None


def notify(ctx, client, params, decisions, decide, now, report, table):
    """Tell the owners of the sessions of ``decisions`` (``[(session, kill, reason)]``) that will be
    culled within ``params.warn_hours``; rows go to ``table``; returns how many were (or would be) told."""
    warn_hours = params.warn_hours
    coming = [(s,) + found for s, kill, _ in decisions if not kill
              for found in [eligible_in(s, params, decide, warn_hours)] if found]
    key = ctx.project_key
    if not key:
        if coming:
            report.notes.append("Kernel notices: no project to send them from and remember them in (the "
                                "command line runs in none; run the step or macro): none sent.")
        return 0
    try:
        store = adminsetup.AdminSetup(client, key, STATE_VARIABLE)
        state = store.state()
    except Unavailable as e:
        report.errors.append("kernel notices: the notices already sent could not be read from project %s: %s; "
                             "none sent" % (key, e))
        return 0
    told = state.get("sessions")
    told = dict(told) if isinstance(told, dict) else {}  # a variable edited by hand into another shape: start over
    alive = {s.session_id for s, _, _ in decisions}
    remembered = {sid: at for sid, at in told.items() if sid in alive}  # bounded: live sessions only
    to_tell = [c for c in coming if c[0].session_id not in remembered]
    if not to_tell:
        if remembered != told and not params.dry_run:
            _save(store, remembered, report)
        return 0
    channel, why_not = pick_channel(client, params.notify_channel)
    if channel is None:
        report.errors.append("kernel notices: none sent: %s" % why_not)
        return 0
    try:
        emails = dssapi.user_emails(client)
    except Unavailable as e:
        report.errors.append("kernel notices: none sent, the users' e-mail addresses could not be read: %s" % e)
        return 0
    count = 0
    now_ms = int(now.timestamp() * 1000)
    for s, hours, why in to_tell:
        row = dict(owner=s.owner, email=emails.get(s.owner, ""), project=s.project, notebook=s.notebook,
                   eligible_in_hours=round(hours, 1), reason=why)
        if not row["email"]:
            row["outcome"] = "no e-mail address in the user record: not told"
            report.notes.append("kernel notices: %s (session of %s.%s) has no e-mail address in DSS: not told"
                                 % (s.owner, s.project, s.notebook))
        elif params.dry_run:
            row["outcome"] = "would tell"
            count += 1
        else:
            subject, body = message(s, hours, why, now, key)
            try:
                dssapi.send_mail(client, channel, key, [row["email"]], subject, body)
            except Unavailable as e:
                row["outcome"] = "send failed"
                report.errors.append("kernel notices: the notice to %s (%s.%s) could not be sent: %s"
                                     % (s.owner, s.project, s.notebook, e))
            else:
                row["outcome"] = "told"
                remembered[s.session_id] = now_ms
                count += 1
        table.add(**row)
    if not params.dry_run:
        _save(store, remembered, report)
    report.notes.append("Kernel notices through the mail channel %s, for sessions culled within %g h%s."
                        % (channel, warn_hours, " (dry run: none sent)" if params.dry_run else ""))
    return count


def _save(store, remembered, report):
    try:
        store.save_state({"sessions": remembered})
    except Unavailable as e:
        report.errors.append("kernel notices: who was told could not be saved (they may be told again): %s" % e)
