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
};

const db_migration *db_builtin_migrations(size_t *n)
{
	*n = sizeof migrations / sizeof migrations[0];
	return migrations;
}
