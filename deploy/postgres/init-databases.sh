#!/usr/bin/env bash
# One database and one LOGIN role per service, each database owned by its role and closed to
# every other role, so no service can read another's data. Safe to run again (it converges).
#
#   in the postgres image: mounted into /docker-entrypoint-initdb.d/ (uses $POSTGRES_USER)
#   on a machine:          PGHOST=127.0.0.1 PGUSER=postgres deploy/postgres/init-databases.sh
#
# Env: <SERVICE>_DB_PASSWORD (default: the role's name), DB_PREFIX (prepended to every role and
# database name, so tests can run beside the real ones), PG* as for psql.

# A subshell body: the postgres entrypoint sources non-executable scripts, and our shell
# options must not leak into it.
init_databases() (
    set -euo pipefail
    export PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
    export PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-postgres}}"
    prefix="${DB_PREFIX:-}"

    for service in sections voting secretariat; do
        name="${prefix}${service}"
        password_var="${service^^}_DB_PASSWORD"
        password="${!password_var:-$name}"
        # CREATE DATABASE cannot run in a DO block, hence "SELECT … WHERE NOT EXISTS \gexec".
        psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
ALTER DATABASE :"name" OWNER TO :"name";
-- PUBLIC may CONNECT to a new database by default: only its own role may.
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
        echo "init-databases: ${name} ready"
    done
)

init_databases
