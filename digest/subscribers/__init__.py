"""Subscribers: a person's subscription from sign-up to deletion (SPEC §4).

`validation` checks what people type (shared by the web forms and the CSV import);
`subscriptions` makes every state change (subscribe, confirm, manage, pause, unsubscribe,
export, delete); `notices` renders and queues the confirmation and manage-link emails, with the
per-address cap; `roster` streams the CSV import and export.

May import: the foundation, `digest.matching`, `digest.compose` (a subscriber's schedule) and
`digest.mail`. The web and the command line sit on top of it; it never imports Flask.
"""
