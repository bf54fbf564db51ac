#!/bin/sh
# First start only (empty data volume): the two roles of the service layer.
#   nsl_owner  owns the database and its tables; `nsl migrate` connects as it.
#   nsl_app    what the api and the worker connect as: owns nothing and cannot bypass row-level
#              security, so every policy that a migration defines applies to it.
# Passwords come from the secret files; psql variables keep them off the command line.
set -eu
psql --set=ON_ERROR_STOP=1 --username postgres --dbname nsl \
  --set=owner_password="$(cat /run/secrets/postgres_owner_password)" \
  --set=app_password="$(cat /run/secrets/postgres_app_password)" <<'SQL'
CREATE ROLE nsl_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE ROLE nsl_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER DATABASE nsl OWNER TO nsl_owner;
REVOKE ALL ON DATABASE nsl FROM PUBLIC;
GRANT CONNECT ON DATABASE nsl TO nsl_owner, nsl_app;
\connect nsl
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO nsl_owner;
GRANT USAGE ON SCHEMA public TO nsl_app;
ALTER DEFAULT PRIVILEGES FOR ROLE nsl_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO nsl_app;
ALTER DEFAULT PRIVILEGES FOR ROLE nsl_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO nsl_app;
SQL
