/**
 * The SQLite database (better-sqlite3, WAL): users, sessions, API tokens, per-VM grants, volume
 * ownership and the audit log. VM configs are NOT here: they are one JSON file per VM, so that a
 * VM can be inspected, backed up or moved by hand.
 * Migrations are in code, applied in order, and recorded in user_version. Never edit a migration
 * that has shipped: add a new one.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  // 1: users, sessions, tokens
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('admin','operator','viewer')),
     disabled INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL
   );
   CREATE TABLE sessions (
     id_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL,
     ip TEXT
   );
   CREATE INDEX sessions_user ON sessions(user_id);
   CREATE TABLE api_tokens (
     id INTEGER PRIMARY KEY,
     token_hash TEXT NOT NULL UNIQUE,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT,
     revoked INTEGER NOT NULL DEFAULT 0
   );`,
  // 2: multi-user security: quotas, token role/scope/expiry, per-VM grants, volume owners, audit log
  `ALTER TABLE users ADD COLUMN max_vms INTEGER;
   ALTER TABLE users ADD COLUMN max_running INTEGER;
   ALTER TABLE api_tokens ADD COLUMN role TEXT CHECK (role IS NULL OR role IN ('admin','operator','viewer'));
   ALTER TABLE api_tokens ADD COLUMN vm_id TEXT;
   ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
   ALTER TABLE api_tokens ADD COLUMN last_ip TEXT;
   CREATE INDEX api_tokens_user ON api_tokens(user_id);
   CREATE TABLE vm_grants (
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     vm_id TEXT NOT NULL,
     owner INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     created_by INTEGER,
     PRIMARY KEY (user_id, vm_id)
   );
   CREATE INDEX vm_grants_vm ON vm_grants(vm_id);
   CREATE TABLE volume_owners (
     ref TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at TEXT NOT NULL
   );
   CREATE TABLE audit_log (
     id INTEGER PRIMARY KEY,
     at TEXT NOT NULL,
     user_id INTEGER,
     username TEXT,
     token_id INTEGER,
     ip TEXT,
     action TEXT NOT NULL,
     method TEXT,
     route TEXT,
     vm_id TEXT,
     params TEXT,
     status INTEGER NOT NULL,
     code TEXT,
     ok INTEGER NOT NULL
   );
   CREATE INDEX audit_log_user ON audit_log(username, id);
   CREATE INDEX audit_log_vm ON audit_log(vm_id, id);
   CREATE INDEX audit_log_action ON audit_log(action, id);
   -- Append-only: the app has no UPDATE or DELETE for it, and the database refuses them too.
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
];

export function openDb(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 2000');
  // WAL + NORMAL: a commit is one write to the WAL without an fsync each time; a power cut may
  // lose the last commits but never corrupts. Every mutating request writes an audit row, so FULL
  // would put an fsync on every API call.
  db.pragma('synchronous = NORMAL');
  migrate(db);
  // Password and token hashes live here: nobody but the server's user may read the files (the
  // data dir is traversable by the QEMU group when the server runs as root).
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch {
      /* not there (yet), or :memory: */
    }
  }
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
