-- Runs once, as the PostgreSQL superuser, when the postgres container starts on an empty data
-- directory (/docker-entrypoint-initdb.d). Creates the two roles of docs/operations.md:
--   callvault_owner  owns the database and the schema; `callvault migrate` connects as it
--                    (DATABASE_ADMIN_URL);
--   callvault_app    the service role (DATABASE_URL): it can log in and use the schema, and gets
--                    table privileges only from the migrations (INSERT and SELECT on audit_events).
-- Passwords come from the container environment (see docker/.env.example).
\set ON_ERROR_STOP on
\getenv owner_password CALLVAULT_OWNER_DB_PASSWORD
\getenv app_password CALLVAULT_APP_DB_PASSWORD

\if :{?owner_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'CALLVAULT_OWNER_DB_PASSWORD is not set'; END $$;
\endif
\if :{?app_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'CALLVAULT_APP_DB_PASSWORD is not set'; END $$;
\endif

CREATE ROLE callvault_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE callvault_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE DATABASE callvault OWNER callvault_owner;
REVOKE ALL ON DATABASE callvault FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE callvault TO callvault_owner;
GRANT CONNECT ON DATABASE callvault TO callvault_app;

\connect callvault
ALTER SCHEMA public OWNER TO callvault_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO callvault_app;
