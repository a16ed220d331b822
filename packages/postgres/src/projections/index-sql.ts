/**
 * Read-model migration 3: what queries and declared indexes stand on.
 *
 * Core's comparison rule (see `@eventloom/core` `query.ts`) orders a field by its kind, then its
 * value. In SQL a field `f` is three expressions — `rm_kind(data, 'f')` (0 null/missing,
 * 1 boolean, 2 number, 3 string, 4 array/object), `rm_num(data, 'f')` (the number, a boolean as
 * 0/1, else 0) and `rm_str(data, 'f') COLLATE "C"` (the string, else '') — none of them ever NULL,
 * so an equality fixes all three and an index on them serves the ordering that follows.
 * Numbers compare as double precision, exactly as JavaScript compares the numbers it wrote.
 *
 * The functions are plpgsql, so PostgreSQL never inlines them: under the tables' forced row-level
 * security only leakproof conditions may be index conditions, and an inlined body (jsonb
 * operators) is not leakproof. `migrateReadModels` marks them LEAKPROOF when a superuser opens
 * the store (only a superuser may); they cannot raise an error whatever the document holds.
 *
 * A declared index is a partial expression index on `rm_documents` for one tenant, projection
 * version and collection, created and dropped by SECURITY DEFINER functions (the tables belong to
 * the migrating user, the store runs as `<schema>_app`), and listed in `rm_indexes`.
 */
import { TENANT_SETTING } from '../sql/tables.js';

/** Kind ranks of core's rule, as `rm_kind` returns them. */
export const SQL_KIND = { null: 0, boolean: 1, number: 2, string: 3, other: 4 } as const;

/** The three expressions of field `field` (a plain identifier, checked by core) on `data`. */
export function fieldExpressions(s: string, field: string): { kind: string; num: string; str: string } {
  const f = `'${field}'`;
  return { kind: `${s}.rm_kind(data, ${f})`, num: `${s}.rm_num(data, ${f})`, str: `(${s}.rm_str(data, ${f}) COLLATE "C")` };
}

/** The field functions' signatures, for ALTER FUNCTION and GRANT. */
export function fieldFunctions(s: string): string[] {
  return [`${s}.rm_kind(jsonb, text)`, `${s}.rm_num(jsonb, text)`, `${s}.rm_str(jsonb, text)`];
}

const TENANT = `current_setting('${TENANT_SETTING}', true)`;

export function indexesSql(s: string): string {
  // One body quote that no schema name can end early: the schema appears only as a quoted identifier.
  const q = '$eventloom_rm$';
  const columns = `', ' || ${quoteLiteralSql(s)} || '.rm_kind(data, ' || quote_literal(f) || '), ' || ${quoteLiteralSql(s)} || '.rm_num(data, ' || quote_literal(f) || '), (' || ${quoteLiteralSql(s)} || '.rm_str(data, ' || quote_literal(f) || ') COLLATE "C")'`;
  return `
CREATE FUNCTION ${s}.rm_kind(d jsonb, f text) RETURNS integer LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS ${q}
BEGIN
  RETURN CASE jsonb_typeof(d -> f) WHEN 'boolean' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3
    WHEN 'array' THEN 4 WHEN 'object' THEN 4 ELSE 0 END;
END ${q};

CREATE FUNCTION ${s}.rm_num(d jsonb, f text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS ${q}
DECLARE
  v jsonb := d -> f;
  n numeric;
BEGIN
  CASE jsonb_typeof(v)
    WHEN 'boolean' THEN RETURN CASE WHEN v = 'true'::jsonb THEN 1 ELSE 0 END;
    WHEN 'number' THEN
      n := v::numeric;
      -- Numbers JavaScript cannot hold (written by plain SQL) saturate rather than raise.
      IF n >= 1.7976931348623158e308 THEN RETURN 'Infinity'; END IF;
      IF n <= -1.7976931348623158e308 THEN RETURN '-Infinity'; END IF;
      IF abs(n) < 2.5e-324 THEN RETURN 0; END IF;
      RETURN n::double precision;
    ELSE RETURN 0;
  END CASE;
END ${q};

CREATE FUNCTION ${s}.rm_str(d jsonb, f text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS ${q}
BEGIN
  RETURN CASE WHEN jsonb_typeof(d -> f) = 'string' THEN d ->> f ELSE '' END;
END ${q};

-- The declared indexes of each tenant's projection versions, so that dropping a version drops them.
CREATE TABLE ${s}.rm_indexes (
  tenant_id  text COLLATE "C" NOT NULL DEFAULT ${TENANT},
  namespace  text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  name       text COLLATE "C" NOT NULL,
  fields     text[] NOT NULL,
  index_name text NOT NULL,
  PRIMARY KEY (tenant_id, namespace, collection, name)
);
ALTER TABLE ${s}.rm_indexes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.rm_indexes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${s}.rm_indexes USING (tenant_id = ${TENANT}) WITH CHECK (tenant_id = ${TENANT});

-- As the tables' owner (only it may index them), for the session's tenant only. The tenant is named
-- in every statement: an owner that is a superuser is not held by row-level security.
CREATE FUNCTION ${s}.rm_create_index(p_namespace text, p_collection text, p_name text, p_fields text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${q}
DECLARE
  t text := ${TENANT};
  ix text;
  old text;
  cols text := '';
  f text;
BEGIN
  IF t IS NULL THEN RAISE EXCEPTION 'no tenant is set' USING ERRCODE = '42501'; END IF;
  IF cardinality(p_fields) IS NULL OR cardinality(p_fields) = 0 OR cardinality(p_fields) > 32 THEN
    RAISE EXCEPTION 'an index lists 1 to 32 fields' USING ERRCODE = '22023';
  END IF;
  FOREACH f IN ARRAY p_fields LOOP
    IF f !~ '^[A-Za-z_$][A-Za-z0-9_$]{0,99}$' THEN
      RAISE EXCEPTION 'index field % is not a plain identifier', quote_literal(f) USING ERRCODE = '22023';
    END IF;
    cols := cols || ${columns};
  END LOOP;
  ix := 'rm_ix_' || left(md5(t || chr(1) || p_namespace || chr(1) || p_collection || chr(1) || p_name || chr(1) || array_to_string(p_fields, ',')), 24);
  SELECT i.index_name INTO old FROM ${s}.rm_indexes i WHERE i.tenant_id = t AND i.namespace = p_namespace AND i.collection = p_collection AND i.name = p_name;
  IF old IS NOT NULL AND old = ix THEN RETURN; END IF;
  IF old IS NOT NULL THEN EXECUTE format('DROP INDEX IF EXISTS %s.%I', ${quoteLiteralSql(s)}, old); END IF;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s.rm_documents (%s, id) WHERE tenant_id = %L AND namespace = %L AND collection = %L',
    ix, ${quoteLiteralSql(s)}, substr(cols, 3), t, p_namespace, p_collection);
  INSERT INTO ${s}.rm_indexes (namespace, collection, name, fields, index_name) VALUES (p_namespace, p_collection, p_name, p_fields, ix)
    ON CONFLICT (tenant_id, namespace, collection, name) DO UPDATE SET fields = excluded.fields, index_name = excluded.index_name;
END ${q};

CREATE FUNCTION ${s}.rm_drop_indexes(p_namespace text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${q}
DECLARE
  t text := ${TENANT};
  ix text;
BEGIN
  FOR ix IN DELETE FROM ${s}.rm_indexes i WHERE i.tenant_id = t AND i.namespace = p_namespace RETURNING i.index_name LOOP
    EXECUTE format('DROP INDEX IF EXISTS %s.%I', ${quoteLiteralSql(s)}, ix);
  END LOOP;
END ${q};
REVOKE ALL ON FUNCTION ${s}.rm_create_index(text, text, text, text[]), ${s}.rm_drop_indexes(text) FROM PUBLIC;
`;
}

/** `s` (a quoted identifier) as an SQL string literal, for building statements inside plpgsql. */
function quoteLiteralSql(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
