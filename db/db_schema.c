/*
 * db_schema.c - the built-in migrations, oldest first.
 *
 * Append new steps at the end with the next version number; never edit a
 * step that has shipped.  Each step runs in one transaction (db.c).
 */
#include "db_int.h"

static const db_migration migrations[] = {
    {1, "base schema",
     "CREATE TABLE meta ("
     "  key TEXT PRIMARY KEY,"
     "  value BLOB NOT NULL"
     ") WITHOUT ROWID;"

     "CREATE TABLE settings ("
     "  key TEXT PRIMARY KEY,"
     "  value TEXT NOT NULL,"
     "  updated_at INTEGER NOT NULL" /* ms since epoch, real time */
     ") WITHOUT ROWID;"

     /* secret is a vault blob bound to ('inboxes', 'secret', uuid). */
     "CREATE TABLE inboxes ("
     "  id INTEGER PRIMARY KEY,"
     "  uuid TEXT NOT NULL UNIQUE,"
     "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     "  email TEXT NOT NULL COLLATE NOCASE,"
     "  provider TEXT NOT NULL DEFAULT 'generic'"
     "    CHECK (provider IN ('generic', 'google', 'microsoft')),"
     "  smtp_host TEXT, smtp_port INTEGER,"
     "  imap_host TEXT, imap_port INTEGER,"
     "  username TEXT,"
     "  auth TEXT NOT NULL DEFAULT 'password'"
     "    CHECK (auth IN ('password', 'oauth2')),"
     "  secret BLOB,"
     "  daily_cap INTEGER NOT NULL DEFAULT 30 CHECK (daily_cap >= 0),"
     "  timezone TEXT NOT NULL DEFAULT 'UTC',"
     "  status TEXT NOT NULL DEFAULT 'active'"
     "    CHECK (status IN ('active', 'paused', 'error')),"
     "  created_at INTEGER NOT NULL"
     ");"

     "CREATE TABLE contacts ("
     "  id INTEGER PRIMARY KEY,"
     "  email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     "  first_name TEXT, last_name TEXT, company TEXT, title TEXT,"
     "  website TEXT, timezone TEXT,"
     "  custom TEXT NOT NULL DEFAULT '{}'," /* JSON object */
     "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN"
     "    ('active', 'replied', 'bounced', 'unsubscribed', 'complained')),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ");"

     "CREATE TABLE suppressions ("
     "  id INTEGER PRIMARY KEY,"
     "  kind TEXT NOT NULL CHECK (kind IN ('address', 'domain')),"
     "  value TEXT NOT NULL COLLATE NOCASE,"
     "  reason TEXT NOT NULL,"
     "  source TEXT,"
     "  created_at INTEGER NOT NULL,"
     "  UNIQUE (kind, value)"
     ");"},

    {2, "inbox settings and sent messages",
     /* how to reach and use each inbox */
     "ALTER TABLE inboxes ADD COLUMN smtp_tls TEXT NOT NULL DEFAULT 'starttls'"
     "  CHECK (smtp_tls IN ('tls', 'starttls', 'none'));"
     "ALTER TABLE inboxes ADD COLUMN imap_tls TEXT NOT NULL DEFAULT 'tls'"
     "  CHECK (imap_tls IN ('tls', 'starttls', 'none'));"
     "ALTER TABLE inboxes ADD COLUMN ca_file TEXT;"
     "ALTER TABLE inboxes ADD COLUMN insecure_tls INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN display_name TEXT;"
     "ALTER TABLE inboxes ADD COLUMN signature TEXT;"
     "ALTER TABLE inboxes ADD COLUMN sent_copy TEXT NOT NULL DEFAULT 'auto'"
     "  CHECK (sent_copy IN ('auto', 'always', 'never'));"
     "ALTER TABLE inboxes ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;"
     "CREATE UNIQUE INDEX inboxes_email ON inboxes(email);"
     "CREATE TABLE inbox_tags ("
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  tag TEXT NOT NULL COLLATE NOCASE,"
     "  PRIMARY KEY (inbox_id, tag)"
     ") WITHOUT ROWID;"
     "CREATE INDEX inbox_tags_tag ON inbox_tags(tag);"

     /* every message handed to SMTP, recorded before DATA */
     "CREATE TABLE messages ("
     "  id INTEGER PRIMARY KEY,"
     "  message_id TEXT NOT NULL UNIQUE,"
     "  inbox_id INTEGER REFERENCES inboxes(id) ON DELETE SET NULL,"
     "  inbox_email TEXT NOT NULL COLLATE NOCASE,"
     "  recipient TEXT NOT NULL COLLATE NOCASE,"
     "  purpose TEXT NOT NULL CHECK (purpose IN"
     "    ('test', 'campaign', 'warmup')),"
     "  subject TEXT,"
     "  created_at INTEGER NOT NULL," /* ms, service clock */
     "  local_day TEXT NOT NULL,"     /* YYYY-MM-DD in the inbox's zone */
     "  outcome TEXT NOT NULL DEFAULT 'sending' CHECK (outcome IN"
     "    ('sending', 'sent', 'deferred', 'rejected_recipient',"
     "     'rejected_policy', 'inbox_failure', 'uncertain')),"
     "  smtp_code INTEGER,"
     "  smtp_reply TEXT,"
     "  updated_at INTEGER NOT NULL"
     ");"
     "CREATE INDEX messages_inbox_day ON messages(inbox_id, local_day);"
     "CREATE INDEX messages_recipient ON messages(recipient);"},

    {3, "watched folders and events",
     /* per inbox and role (inbox, junk, sent): the folder's name and how
      * far it has been read */
     "CREATE TABLE inbox_folders ("
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  role TEXT NOT NULL CHECK (role IN ('inbox', 'junk', 'sent')),"
     "  name TEXT NOT NULL,"
     "  uidvalidity INTEGER NOT NULL DEFAULT 0,"
     "  last_uid INTEGER NOT NULL DEFAULT 0,"
     "  synced_at INTEGER,"
     "  PRIMARY KEY (inbox_id, role)"
     ") WITHOUT ROWID;"
     /* one row per classified message (per recipient for reports); the
      * UNIQUE key makes a message seen twice (moved from Junk, a resync
      * after UIDVALIDITY changed) one event */
     "CREATE TABLE events ("
     "  id INTEGER PRIMARY KEY,"
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  msg_key TEXT NOT NULL,"
     "  recipient TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
     "  kind TEXT NOT NULL CHECK (kind IN ('bounce', 'delay', 'complaint',"
     "    'auto_reply', 'unsubscribe', 'reply', 'warmup', 'other')),"
     "  folder TEXT,"
     "  from_addr TEXT COLLATE NOCASE,"
     "  subject TEXT,"
     "  message_id TEXT,"
     "  in_reply_to TEXT,"
     "  related_message_id TEXT," /* ours, that it answers or reports */
     "  contact TEXT COLLATE NOCASE,"
     "  status TEXT,"
     "  hard INTEGER,"
     "  reason TEXT,"
     "  return_date TEXT,"
     "  received_at INTEGER NOT NULL,"
     "  UNIQUE (inbox_id, msg_key, recipient)"
     ");"
     "CREATE INDEX events_time ON events(received_at);"
     "CREATE INDEX events_contact ON events(contact);"
     "CREATE INDEX messages_created ON messages(inbox_id, created_at);"},

    {4, "contacts lists, custom fields, forgotten addresses, templates",
     "CREATE TABLE lists ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     "  created_at INTEGER NOT NULL"
     ");"
     "CREATE TABLE list_members ("
     "  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,"
     "  contact_id INTEGER NOT NULL REFERENCES contacts(id)"
     "    ON DELETE CASCADE,"
     "  added_at INTEGER NOT NULL,"
     "  PRIMARY KEY (list_id, contact_id)"
     ") WITHOUT ROWID;"
     "CREATE INDEX list_members_contact ON list_members(contact_id);"
     /* custom field names seen at import (values: contacts.custom) */
     "CREATE TABLE contact_fields ("
     "  name TEXT PRIMARY KEY COLLATE NOCASE,"
     "  created_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     /* `contacts forget`: SHA-256(salt in meta || lower-case address) */
     "CREATE TABLE forgotten ("
     "  hash BLOB PRIMARY KEY,"
     "  created_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "CREATE TABLE templates ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     "  created_at INTEGER NOT NULL"
     ");"
     /* a campaign keeps the version id it was started with */
     "CREATE TABLE template_versions ("
     "  id INTEGER PRIMARY KEY,"
     "  template_id INTEGER NOT NULL REFERENCES templates(id)"
     "    ON DELETE CASCADE,"
     "  version INTEGER NOT NULL,"
     "  source TEXT NOT NULL,"
     "  file TEXT,"
     "  has_subject INTEGER NOT NULL,"
     "  has_html INTEGER NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  UNIQUE (template_id, version)"
     ");"},

    {5, "folder HIGHESTMODSEQ",
     "ALTER TABLE inbox_folders ADD COLUMN highestmodseq INTEGER NOT NULL "
     "DEFAULT 0;"},

    /* contacts.status CHECK as an OR chain.  A constant IN list of more
     * than two values is tested through an ephemeral table that SQLite
     * builds anew on every run of a statement: contacts import, one run
     * per row, paid a b-tree opened and closed per row (a quarter of its
     * time).  The OR chain means the same and needs no table.  Records do
     * not change, so only the table's text in sqlite_schema is rewritten,
     * the way https://www.sqlite.org/lang_altertable.html ("Making Other
     * Kinds Of Table Schema Changes") describes (needs SQLite's default,
     * non-defensive mode).  RESET makes this connection re-read the
     * schema; the throwaway table moves the schema cookie, as any DDL
     * does, so other open connections re-read it too (what the page's
     * PRAGMA schema_version step is for).  A table whose text is not
     * migration 1's is left as it is: its constraint is just as right. */
    {6, "contacts status check without IN",
     "PRAGMA writable_schema = ON;"
     "UPDATE sqlite_schema SET sql = replace(sql,"
     "  'CHECK (status IN    (''active'', ''replied'', ''bounced'', "
     "''unsubscribed'', ''complained''))',"
     "  'CHECK (status = ''active'' OR status = ''replied'' OR "
     "status = ''bounced'' OR status = ''unsubscribed'' OR "
     "status = ''complained'')')"
     "  WHERE type = 'table' AND name = 'contacts';"
     "PRAGMA writable_schema = RESET;"
     "CREATE TABLE migration_6 (x);"
     "DROP TABLE migration_6;"},
    {7, "campaigns, enrollments, outbox; inbox pacing and pause",
     "ALTER TABLE inboxes ADD COLUMN hard_cap INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN domain_hourly_cap INTEGER NOT NULL "
     "DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN min_gap INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN ramp_start INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN ramp_step INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE inboxes ADD COLUMN paused_reason TEXT;"
     "ALTER TABLE inboxes ADD COLUMN paused_until INTEGER;"
     /* the scheduler's pacing: no campaign send before (service clock) */
     "ALTER TABLE inboxes ADD COLUMN next_send_at INTEGER;"

     /* the YAML as given, and what it says, checked */
     "CREATE TABLE campaigns ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
     "  file TEXT,"
     "  source TEXT NOT NULL,"
     "  list_id INTEGER REFERENCES lists(id) ON DELETE SET NULL,"
     "  inboxes TEXT NOT NULL," /* selectors, space separated */
     "  timezone TEXT NOT NULL,"
     "  window_days INTEGER NOT NULL," /* bit 0 = Sunday */
     "  window_from INTEGER NOT NULL," /* minutes after midnight */
     "  window_to INTEGER NOT NULL,"
     "  contact_tz INTEGER NOT NULL,"
     "  new_per_day INTEGER NOT NULL,"
     "  esp_match INTEGER NOT NULL,"
     "  stop_on_auto_reply INTEGER NOT NULL,"
     "  stop_company INTEGER NOT NULL,"
     "  allow_parallel INTEGER NOT NULL,"
     "  status TEXT NOT NULL DEFAULT 'draft' CHECK (status = 'draft' OR status "
     "= 'active' OR status = 'paused'),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ");"
     "CREATE TABLE campaign_steps ("
     "  campaign_id INTEGER NOT NULL REFERENCES campaigns(id)"
     "    ON DELETE CASCADE,"
     "  step INTEGER NOT NULL," /* 1-based */
     "  delay_amount INTEGER NOT NULL,"
     "  delay_unit TEXT NOT NULL CHECK (delay_unit = 'minutes' OR delay_unit = "
     "'hours' OR delay_unit = 'days' OR delay_unit = 'business_days'),"
     "  new_thread INTEGER NOT NULL,"
     "  PRIMARY KEY (campaign_id, step)"
     ") WITHOUT ROWID;"
     /* a step's templates, pinned to the version the campaign was made
      * with; assigned counts the contacts given each (even split) */
     "CREATE TABLE step_variants ("
     "  campaign_id INTEGER NOT NULL REFERENCES campaigns(id)"
     "    ON DELETE CASCADE,"
     "  step INTEGER NOT NULL,"
     "  variant INTEGER NOT NULL,"
     "  template_version_id INTEGER NOT NULL"
     "    REFERENCES template_versions(id),"
     "  assigned INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (campaign_id, step, variant)"
     ") WITHOUT ROWID;"
     /* one contact in one campaign; see sequencer/seq_sched.c for the
      * life cycle.  step is the next step to send; due_at when it may go
      * (window and pacing aside); inbox_id is sticky from step 1 on. */
     "CREATE TABLE enrollments ("
     "  id INTEGER PRIMARY KEY,"
     "  campaign_id INTEGER NOT NULL REFERENCES campaigns(id)"
     "    ON DELETE CASCADE,"
     "  contact_id INTEGER NOT NULL REFERENCES contacts(id)"
     "    ON DELETE CASCADE,"
     "  state TEXT NOT NULL DEFAULT 'active' CHECK (state = 'active' OR state "
     "= 'queued' OR state = 'held' OR state = 'completed' OR state = "
     "'stopped'),"
     "  step INTEGER NOT NULL DEFAULT 1,"
     "  due_at INTEGER NOT NULL,"
     "  inbox_id INTEGER REFERENCES inboxes(id) ON DELETE SET NULL,"
     "  thread_subject TEXT,"
     "  thread_refs TEXT," /* Message-IDs of the thread, oldest first */
     "  last_sent_at INTEGER,"
     "  reason TEXT," /* held or stopped: why */
     "  enrolled_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (campaign_id, contact_id)"
     ");"
     "CREATE INDEX enrollments_new ON enrollments(campaign_id, due_at)"
     "  WHERE state = 'active' AND inbox_id IS NULL;"
     "CREATE INDEX enrollments_follow ON enrollments(inbox_id, due_at)"
     "  WHERE state = 'active' AND inbox_id IS NOT NULL;"
     "CREATE INDEX enrollments_due ON enrollments(due_at)"
     "  WHERE state = 'active';"
     "CREATE INDEX enrollments_contact ON enrollments(contact_id);"
     /* one message a step hands to a transport; see seq_outbox.c */
     "CREATE TABLE outbox ("
     "  id INTEGER PRIMARY KEY,"
     "  enrollment_id INTEGER NOT NULL REFERENCES enrollments(id)"
     "    ON DELETE CASCADE,"
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  step INTEGER NOT NULL,"
     "  variant INTEGER NOT NULL,"
     "  message_id TEXT NOT NULL UNIQUE,"
     "  subject TEXT NOT NULL,"
     "  in_reply_to TEXT,"
     "  refs TEXT,"
     "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state = 'queued' OR state "
     "= 'sending' OR state = 'sent' OR state = 'deferred' OR state = 'failed' "
     "OR state = 'held'),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  due_at INTEGER NOT NULL,"
     "  reason TEXT,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ");"
     "CREATE INDEX outbox_state ON outbox(state, due_at);"
     "CREATE INDEX outbox_enrollment ON outbox(enrollment_id);"},

    {8, "OAuth2: inbox authorization state and token metadata",
     /* ok: usable; pending: imported, not connected yet; auth_failed: the
      * provider refused the grant (reason says how to reconnect).  Kept
      * apart from status (active|paused|error) because SQLite cannot
      * widen that CHECK without rebuilding the table. */
     "ALTER TABLE inboxes ADD COLUMN auth_state TEXT NOT NULL DEFAULT 'ok'"
     "  CHECK (auth_state IN ('ok', 'pending', 'auth_failed'));"
     "ALTER TABLE inboxes ADD COLUMN auth_reason TEXT;"
     /* One row per inbox connected with `inbox connect`.  The access token
      * is the inbox's secret (inboxes.secret); the refresh token is a
      * vault blob bound to ('oauth_tokens', 'refresh_token', inbox uuid).
      * generation grows whenever the refresh token changes, so a refresh
      * that raced another process's can tell (compare-and-set).  Times
      * are ms since the epoch, real time (the provider's clock, never a
      * simulated one). */
     "CREATE TABLE oauth_tokens ("
     "  inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id)"
     "    ON DELETE CASCADE,"
     "  provider TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),"
     "  tenant TEXT,"
     "  refresh_token BLOB NOT NULL,"
     "  generation INTEGER NOT NULL DEFAULT 1,"
     "  access_expires_at INTEGER NOT NULL,"
     "  refreshed_at INTEGER NOT NULL,"      /* last grant that worked */
     "  refresh_issued_at INTEGER NOT NULL," /* of the current one */
     "  used_at INTEGER,"                    /* access token handed out */
     "  connected_at INTEGER NOT NULL"
     ");"},

    {9, "warmup settings, plan and IMAP actions",
     /* one row per inbox ever put in warmup; first_day is day 1 of the
      * ramp (the local day of its first warmup send) */
     "CREATE TABLE warmup ("
     "  inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id)"
     "    ON DELETE CASCADE,"
     "  enabled INTEGER NOT NULL DEFAULT 1,"
     "  start INTEGER NOT NULL CHECK (start >= 1),"
     "  step INTEGER NOT NULL CHECK (step >= 0),"
     "  max INTEGER NOT NULL CHECK (max >= 1),"
     "  reply_rate INTEGER NOT NULL CHECK (reply_rate BETWEEN 0 AND 100),"
     "  weekdays_only INTEGER NOT NULL DEFAULT 0,"
     "  counts_toward_cap INTEGER NOT NULL DEFAULT 0,"
     "  first_day TEXT,"
     "  last_topic INTEGER NOT NULL DEFAULT -1,"
     "  updated_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     /* what an inbox sends in warmup: new messages planned for a local
      * day, and replies planned when a warmup message arrived */
     "CREATE TABLE warmup_plan ("
     "  id INTEGER PRIMARY KEY,"
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  local_day TEXT NOT NULL,"
     "  kind TEXT NOT NULL CHECK (kind IN ('new', 'reply')),"
     "  to_addr TEXT NOT NULL COLLATE NOCASE,"
     "  subject TEXT,"
     "  in_reply_to TEXT,"
     "  refs TEXT,"
     "  due_at INTEGER NOT NULL,"
     "  state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN"
     "    ('planned', 'sending', 'sent', 'failed', 'dropped')),"
     "  message_id TEXT,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ");"
     "CREATE INDEX warmup_plan_due ON warmup_plan(state, due_at);"
     "CREATE INDEX warmup_plan_day ON warmup_plan(inbox_id, local_day);"
     "CREATE UNIQUE INDEX warmup_plan_reply ON warmup_plan(inbox_id,"
     "  in_reply_to) WHERE kind = 'reply';"
     /* the receiving side: IMAP changes to make on a warmup message
      * (rescue from Junk + read, archive), executed by a worker */
     "CREATE TABLE warmup_actions ("
     "  id INTEGER PRIMARY KEY,"
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  message_id TEXT NOT NULL,"
     "  action TEXT NOT NULL CHECK (action IN ('read', 'archive')),"
     "  folder TEXT NOT NULL," /* where the message is expected */
     /* where the watcher saw it: used while UIDVALIDITY holds */
     "  uidvalidity INTEGER NOT NULL DEFAULT 0,"
     "  uid INTEGER NOT NULL DEFAULT 0,"
     "  flag INTEGER NOT NULL DEFAULT 0," /* read: also flagged */
     "  due_at INTEGER NOT NULL,"
     "  state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN"
     "    ('planned', 'done', 'failed')),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  rescued INTEGER NOT NULL DEFAULT 0,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  UNIQUE (inbox_id, message_id, action)"
     ");"
     "CREATE INDEX warmup_actions_due ON warmup_actions(state, due_at);"},

    /* stats and bounce protection join events to messages by the
     * message an event is about */
    {10, "events by related message",
     "CREATE INDEX IF NOT EXISTS events_related ON "
     "events(related_message_id);"},

    /* `inbox remove` keeps the inbox's row as a tombstone (removed_at
     * set, renamed "NAME (removed)", secret wiped; see db_inbox.c), so
     * its history (messages, events, outbox, enrollments) keeps joining
     * to its name and address.  Only live inboxes need a unique email:
     * the same address may be added again after a removal.  The history
     * tables' foreign keys become ON DELETE RESTRICT, so that a deleted
     * inbox row can never again take its history with it (CASCADE) or
     * cut a thread loose from the inbox that started it (SET NULL, which
     * let another inbox send its follow-ups).  Changing a foreign key's
     * action leaves every record and index as it is, so only the tables'
     * text is rewritten, as migration 6 does (an unexpected text is left
     * as it is). */
    {11, "inbox removal keeps history",
     "ALTER TABLE inboxes ADD COLUMN removed_at INTEGER;"
     "DROP INDEX inboxes_email;"
     "CREATE UNIQUE INDEX inboxes_email ON inboxes(email)"
     "  WHERE removed_at IS NULL;"
     "PRAGMA writable_schema = ON;"
     "UPDATE sqlite_schema SET sql = replace(sql,"
     "  'inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE',"
     "  'inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE RESTRICT')"
     "  WHERE type = 'table' AND name IN ('events', 'outbox');"
     "UPDATE sqlite_schema SET sql = replace(sql,"
     "  'inbox_id INTEGER REFERENCES inboxes(id) ON DELETE SET NULL',"
     "  'inbox_id INTEGER REFERENCES inboxes(id) ON DELETE RESTRICT')"
     "  WHERE type = 'table' AND name IN ('messages', 'enrollments');"
     "PRAGMA writable_schema = RESET;"
     "CREATE TABLE migration_11 (x);"
     "DROP TABLE migration_11;"},

    /* issue 17: a message may be tried more than once under the same
     * Message-ID (a resend after an uncertain end, a retry after a
     * deferral): messages keeps one row per Message-ID, send_attempts one
     * per attempt.  The caps count a message's first attempt through
     * messages and each later one here (attempt > 1), so every attempt
     * that may have gone out counts once.  outbox_history is a contact's
     * record of what happened to its outbox rows besides SMTP answers
     * (held as unsendable, dropped, retried, resolved); no foreign keys:
     * history outlives the rows it tells about. */
    {12, "send attempts and outbox history",
     "CREATE TABLE send_attempts ("
     "  message_id TEXT NOT NULL,"
     "  attempt INTEGER NOT NULL CHECK (attempt >= 1),"
     "  inbox_id INTEGER REFERENCES inboxes(id) ON DELETE RESTRICT,"
     "  local_day TEXT NOT NULL,"
     "  started_at INTEGER NOT NULL,"
     "  outcome TEXT NOT NULL DEFAULT 'sending',"
     "  code INTEGER,"
     "  text TEXT,"
     "  updated_at INTEGER NOT NULL,"
     "  PRIMARY KEY (message_id, attempt)"
     ") WITHOUT ROWID;"
     "CREATE INDEX send_attempts_day ON send_attempts(inbox_id, local_day)"
     "  WHERE attempt > 1;"
     "CREATE TABLE outbox_history ("
     "  id INTEGER PRIMARY KEY,"
     "  outbox_id INTEGER,"
     "  contact TEXT NOT NULL COLLATE NOCASE,"
     "  campaign TEXT,"
     "  step INTEGER,"
     "  message_id TEXT,"
     "  action TEXT NOT NULL,"
     "  detail TEXT,"
     "  at INTEGER NOT NULL"
     ");"
     "CREATE INDEX outbox_history_contact ON outbox_history(contact, at);"
     "CREATE INDEX outbox_history_row ON outbox_history(outbox_id);"},

    /* What the running service sees of each inbox and the CLI cannot
     * (issue 17): its watcher's state and the failure that keeps an inbox
     * from sending, each with since when (real time).  Written by the
     * service on change only; pid names the service that wrote the row,
     * so a row left by a service that has stopped is not shown as now. */
    {13, "the service's view of each inbox",
     "CREATE TABLE inbox_runtime ("
     "  inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id)"
     "    ON DELETE CASCADE,"
     "  pid INTEGER NOT NULL,"
     "  watch_state TEXT CHECK (watch_state IN ('starting', 'ok', "
     "'down')),"
     "  watch_error TEXT,"
     "  watch_since INTEGER NOT NULL DEFAULT 0,"
     "  send_error TEXT,"
     "  send_since INTEGER NOT NULL DEFAULT 0,"
     "  updated_at INTEGER NOT NULL"
     ");"},

    /* issue 18: a database says it is coldseq's (db_open refuses one
     * that does not: DB_APPLICATION_ID, 0x43534551), and `campaign delete
     * --force` keeps a campaign that has history as a tombstone
     * (deleted_at set, renamed "NAME (deleted)"), so its messages, events
     * and stats keep joining to it. */
    {14, "application id; deleted campaigns",
     "PRAGMA application_id = 1129530705;"
     "ALTER TABLE campaigns ADD COLUMN deleted_at INTEGER;"},

    /* issue 19: one outbox for every message that leaves.  A row has a
     * purpose: a campaign step (its enrollment), a warmup send (its
     * warmup_plan row: the planner plans there, the outbox sends) or a
     * send-test; the CHECKs tie each reference to its purpose.  The
     * states are exactly the state machine's (sequencer/seq_outbox_fsm.c):
     * 'deferred' was in the CHECK but never entered (a deferral goes back
     * to 'queued' with the same Message-ID, due later), so it is gone.
     * SQLite cannot change a CHECK or a NOT NULL in place: the table is
     * made anew, copied, dropped and renamed; its foreign keys (the
     * enrollment CASCADE, the inbox RESTRICT of migration 11) and indexes
     * are the same, and nothing references outbox.  Existing rows are
     * campaign rows.  Warmup sends already handed over (plan rows
     * sending, sent or failed with a Message-ID and its messages row) get
     * their outbox row in the same state, so that a send a crash cut off
     * is resolved at the next start-up through the outbox like any other;
     * planned rows get theirs when the planner or the next start-up's
     * pass finds them without one (seq_warmup_pass).  Test sends of
     * before stay in messages only. */
    {15, "one outbox: purposes; the state machine's states only",
     "CREATE TABLE outbox_15 ("
     "  id INTEGER PRIMARY KEY,"
     "  purpose TEXT NOT NULL DEFAULT 'campaign' CHECK (purpose IN"
     "    ('campaign', 'warmup', 'test')),"
     "  enrollment_id INTEGER REFERENCES enrollments(id) ON DELETE CASCADE,"
     "  warmup_plan_id INTEGER REFERENCES warmup_plan(id)"
     "    ON DELETE CASCADE,"
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE RESTRICT,"
     "  step INTEGER NOT NULL DEFAULT 0,"
     "  variant INTEGER NOT NULL DEFAULT 0,"
     "  message_id TEXT NOT NULL UNIQUE,"
     "  subject TEXT NOT NULL,"
     "  in_reply_to TEXT,"
     "  refs TEXT,"
     "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN"
     "    ('queued', 'sending', 'sent', 'failed', 'held')),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  due_at INTEGER NOT NULL,"
     "  reason TEXT,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  CHECK ((enrollment_id IS NOT NULL) = (purpose = 'campaign')),"
     "  CHECK ((warmup_plan_id IS NOT NULL) = (purpose = 'warmup'))"
     ");"
     "INSERT INTO outbox_15 (id, purpose, enrollment_id, inbox_id, step,"
     "  variant, message_id, subject, in_reply_to, refs, state, attempts,"
     "  due_at, reason, created_at, updated_at)"
     "  SELECT id, 'campaign', enrollment_id, inbox_id, step, variant,"
     "  message_id, subject, in_reply_to, refs,"
     "  CASE state WHEN 'deferred' THEN 'queued' ELSE state END,"
     "  attempts, due_at, reason, created_at, updated_at FROM outbox;"
     "INSERT INTO outbox_15 (purpose, warmup_plan_id, inbox_id, message_id,"
     "  subject, in_reply_to, refs, state, attempts, due_at, created_at,"
     "  updated_at)"
     "  SELECT 'warmup', p.id, p.inbox_id, p.message_id,"
     "  coalesce(m.subject, ''), p.in_reply_to, p.refs, p.state, 1,"
     "  p.due_at, p.created_at, p.updated_at"
     "  FROM warmup_plan p JOIN messages m ON m.message_id = p.message_id"
     "  WHERE p.state IN ('sending', 'sent', 'failed')"
     "  AND p.message_id NOT IN (SELECT message_id FROM outbox_15);"
     "DROP TABLE outbox;"
     "ALTER TABLE outbox_15 RENAME TO outbox;"
     "CREATE INDEX outbox_state ON outbox(state, due_at);"
     "CREATE INDEX outbox_enrollment ON outbox(enrollment_id);"
     "CREATE INDEX outbox_plan ON outbox(warmup_plan_id);"},

    /* issue 21: provider limits counted the way the provider counts.
     *  - inboxes.limits: per-inbox overrides of the provider table's
     *    limits, "name=N name=N" (core/provider.c names them; 0 turns one
     *    off); the old hard_cap override becomes messages_24h and the
     *    column is no longer read.  trial: a Google Workspace trial
     *    account (lower limits).  tenant: the Microsoft 365 tenant whose
     *    tenant-wide external-recipient counter the inbox shares.
     *    provider_hold: the pause is a provider's answer at submission
     *    (quota, restricted sender, SMTP AUTH off): warmup, which goes on
     *    under coldseq's own health pauses, waits too; any status change
     *    clears it.
     *  - tenants: per tenant, the licence count the limit is computed
     *    from, or the limit itself (0: not set).
     *  - sent_external: what the mailbox sent outside coldseq (the person
     *    using it), read from the headers of its Sent folder: one row per
     *    recipient ('' when the copy names none); counted against the
     *    rolling limits like coldseq's own messages.
     *  - the rolling windows count messages through messages_created
     *    (migration 3).
     *  - domain_pauses: a sending domain paused or slowed toward a
     *    receiving provider after that provider's refusals came back as
     *    bounces (Gmail 5.7.26, Microsoft 5.7.515, ...). */
    {16,
     "provider limits: overrides, tenants, sends outside coldseq, "
     "domain pauses",
     "ALTER TABLE inboxes ADD COLUMN limits TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE inboxes ADD COLUMN trial INTEGER NOT NULL DEFAULT 0"
     "  CHECK (trial IN (0, 1));"
     "ALTER TABLE inboxes ADD COLUMN tenant TEXT COLLATE NOCASE;"
     "ALTER TABLE inboxes ADD COLUMN provider_hold INTEGER NOT NULL"
     "  DEFAULT 0 CHECK (provider_hold IN (0, 1));"
     "UPDATE inboxes SET limits = 'messages_24h=' || hard_cap"
     "  WHERE hard_cap > 0;"
     "CREATE TABLE tenants ("
     "  name TEXT PRIMARY KEY COLLATE NOCASE,"
     "  licences INTEGER NOT NULL DEFAULT 0 CHECK (licences >= 0),"
     "  external_limit INTEGER NOT NULL DEFAULT 0"
     "    CHECK (external_limit >= 0),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ");"
     "CREATE TABLE sent_external ("
     "  inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  msg_key TEXT NOT NULL,"
     "  recipient TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
     "  external INTEGER NOT NULL CHECK (external IN (0, 1)),"
     "  sent_at INTEGER NOT NULL,"
     "  local_day TEXT NOT NULL,"
     "  PRIMARY KEY (inbox_id, msg_key, recipient)"
     ") WITHOUT ROWID;"
     "CREATE INDEX sent_external_at ON sent_external(inbox_id, sent_at);"
     "CREATE TABLE domain_pauses ("
     "  domain TEXT NOT NULL COLLATE NOCASE,"
     "  provider TEXT NOT NULL,"
     "  mode TEXT NOT NULL CHECK (mode IN ('pause', 'slow')),"
     "  until INTEGER NOT NULL,"
     "  code TEXT NOT NULL,"
     "  reason TEXT NOT NULL,"
     "  inbox_id INTEGER REFERENCES inboxes(id) ON DELETE SET NULL,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  PRIMARY KEY (domain, provider)"
     ") WITHOUT ROWID;"},
    /* 17 (issue 22, deliverability check):
     *  - received_copies: a message one of our inboxes sent (any purpose)
     *    as another connected inbox received it: where it landed and what
     *    the receiving server wrote (Authentication-Results), and our
     *    DKIM-Signature's d=, s= and h=, and which List-Unsubscribe
     *    headers it carried (1: List-Unsubscribe, 2: -Post); `coldseq
     *    doctor`'s "what receivers saw".
     *  - doctor_verdicts: the last doctor verdict per inbox (`status`,
     *    campaign start), refreshed daily by the service. */
    {17, "deliverability check: received copies, doctor verdicts",
     "CREATE TABLE received_copies ("
     "  receiver_inbox_id INTEGER NOT NULL"
     "    REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  message_id TEXT NOT NULL,"
     "  sender_inbox_id INTEGER NOT NULL"
     "    REFERENCES inboxes(id) ON DELETE CASCADE,"
     "  purpose TEXT NOT NULL,"
     "  folder TEXT NOT NULL CHECK (folder IN ('inbox', 'junk')),"
     "  received_at INTEGER NOT NULL,"
     "  spf TEXT NOT NULL DEFAULT '',"
     "  dkim TEXT NOT NULL DEFAULT '',"
     "  dmarc TEXT NOT NULL DEFAULT '',"
     "  dkim_domain TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
     "  dkim_selector TEXT NOT NULL DEFAULT '',"
     "  dkim_headers TEXT NOT NULL DEFAULT '',"
     "  mailfrom_domain TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
     "  list_unsub INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (receiver_inbox_id, message_id)"
     ") WITHOUT ROWID;"
     "CREATE INDEX received_copies_sender"
     "  ON received_copies(sender_inbox_id, received_at);"
     "CREATE TABLE doctor_verdicts ("
     "  inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id)"
     "    ON DELETE CASCADE,"
     "  verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail')),"
     "  failing TEXT NOT NULL DEFAULT '',"
     "  checked_at INTEGER NOT NULL"
     ");"},
};

const db_migration *db_builtin_migrations(size_t *n)
{
	*n = sizeof migrations / sizeof migrations[0];
	return migrations;
}
