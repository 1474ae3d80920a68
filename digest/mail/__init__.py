"""Mail: from a digest's entries to bytes over SMTP (SPEC §6, §7).

`entries` turns a matched paper into what a digest shows; `render` is the one Jinja environment
for emails; `message` builds RFC 5322 messages (headers, List-Unsubscribe, DKIM); `outbox` is
the queue of stored messages; `delivery` sends one claimed message and records the outcome;
`mailer` holds the senders (SMTP, `.eml` files).

May import: the foundation and `digest.matching`. It does not know who is due or why.
"""
