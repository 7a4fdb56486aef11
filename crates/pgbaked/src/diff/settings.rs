//! Settings: what sits on a table, view, column, trigger, rule, index, sequence or extension
//! away from its default (FORCE ROW LEVEL SECURITY, a disabled trigger, a column's STORAGE,
//! an identity's options), each read as the statement that sets it and the one that resets
//! it; and default privileges.

use super::coverage::{USER_OID, USER_SCHEMAS, not_in_extension};
use super::kind::Kind;

/// The settings: one row per setting away from its default, as
/// (`KIND target ATTRIBUTE`, the statement that sets it, the one that resets it).
///
/// The name's first word is the kind of the target (`TABLE`, `COLUMN`, `TRIGGER`, `VIEW`,
/// `VIEW_COLUMN`), its
/// last the attribute, and between them the target's qualified name as the catalog keys it.
pub(crate) fn settings() -> Vec<(Kind, String)> {
    relation_settings()
        .into_iter()
        .chain(column_settings())
        .map(|q| (Kind::Setting, q))
        .collect()
}

/// A relation's name, as the catalog keys it.
const TABLE: &str = "format('%I.%I', n.nspname, c.relname)";
/// A column's name, as the catalog keys it.
const COLUMN: &str = "format('%I.%I.%I', n.nspname, c.relname, a.attname)";
/// The head of a statement on a table's column.
const ALTER_COLUMN: &str =
    "format('ALTER TABLE %I.%I ALTER COLUMN %I ', n.nspname, c.relname, a.attname)";

/// The settings of extensions, tables, views, triggers, rules, indexes and sequences.
fn relation_settings() -> Vec<String> {
    let ext_class = not_in_extension("c.oid");
    let table = TABLE;
    vec![
        // An extension's comment away from its control file's (`pg_available_extensions`),
        // which `CREATE EXTENSION` sets: set, and reset to that one.
        "SELECT format('EXTENSION %I COMMENT', x.extname), \
                format('COMMENT ON EXTENSION %I IS %L', x.extname, d.description), \
                format('COMMENT ON EXTENSION %I IS %L', x.extname, a.comment) \
         FROM pg_extension x \
         LEFT JOIN pg_description d ON d.classoid = 'pg_extension'::regclass AND d.objoid = x.oid \
              AND d.objsubid = 0 \
         LEFT JOIN pg_available_extensions a ON a.name = x.extname \
         WHERE x.extname <> 'plpgsql' AND d.description IS DISTINCT FROM a.comment"
            .to_string(),
        format!(
            "SELECT 'TABLE ' || {table} || ' FORCE_RLS', \
                    format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', n.nspname, c.relname), \
                    format('ALTER TABLE %I.%I NO FORCE ROW LEVEL SECURITY', n.nspname, c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relforcerowsecurity \
               AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1))"
        ),
        format!(
            "SELECT 'TABLE ' || {table} || ' CLUSTER', \
                    format('ALTER TABLE %I.%I CLUSTER ON %I', n.nspname, c.relname, ic.relname), \
                    format('ALTER TABLE %I.%I SET WITHOUT CLUSTER', n.nspname, c.relname) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE i.indisclustered AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1))"
        ),
        format!(
            "SELECT 'TRIGGER ' || format('%I.%I.%I', n.nspname, c.relname, t.tgname) || ' ENABLED', \
                    format('ALTER TABLE %I.%I %s TRIGGER %I', n.nspname, c.relname, \
                           CASE t.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' \
                                            ELSE 'ENABLE ALWAYS' END, t.tgname), \
                    format('ALTER TABLE %I.%I ENABLE TRIGGER %I', n.nspname, c.relname, t.tgname) \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgenabled <> 'O' \
               AND {USER_SCHEMAS} AND {ext_class}"
        ),
        // A partition's clone of its parent's trigger, enabled otherwise than the parent's
        // (`ALTER TABLE partition DISABLE TRIGGER`), keyed by the parent's trigger then the
        // partition; reset to the parent's state.
        format!(
            "SELECT 'PARTITION_TRIGGER ' || format('%I.%I.%I %I.%I', pn.nspname, pc.relname, p.tgname, n.nspname, c.relname) \
                    || ' ENABLED', \
                    format('ALTER TABLE %I.%I %s TRIGGER %I', n.nspname, c.relname, {state}, t.tgname), \
                    format('ALTER TABLE %I.%I %s TRIGGER %I', n.nspname, c.relname, {parent_state}, t.tgname) \
             FROM pg_trigger t JOIN pg_trigger p ON p.oid = t.tgparentid \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_class pc ON pc.oid = p.tgrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
             WHERE t.tgenabled <> p.tgenabled AND {USER_SCHEMAS} AND {ext_class}",
            state = enabled_state("t.tgenabled"),
            parent_state = enabled_state("p.tgenabled"),
        ),
        format!(
            "SELECT 'RULE ' || format('%I.%I.%I', n.nspname, c.relname, r.rulename) || ' ENABLED', \
                    format('ALTER TABLE %I.%I %s RULE %I', n.nspname, c.relname, \
                           CASE r.ev_enabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' \
                                             ELSE 'ENABLE ALWAYS' END, r.rulename), \
                    format('ALTER TABLE %I.%I ENABLE RULE %I', n.nspname, c.relname, r.rulename) \
             FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE r.rulename <> '_RETURN' AND r.ev_enabled <> 'O' \
               AND {USER_SCHEMAS} AND {ext_class}"
        ),
    ]
}

/// The settings of tables' and materialized views' columns.
fn column_settings() -> Vec<String> {
    let ext_class = not_in_extension("c.oid");
    let (table, column, alter_column) = (TABLE, COLUMN, ALTER_COLUMN);
    let joined = "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid";
    let user_columns = format!(
        "WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
           AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1))"
    );
    let columns = format!("{joined} {user_columns}");
    let storage = |code: &str| {
        format!(
            "CASE {code} WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' \
                         WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END"
        )
    };
    vec![
        // Storage, statistics target and compression where they are not the defaults: one
        // reading of the columns for the three.
        format!(
            "SELECT 'COLUMN ' || {column} || ' ' || x.what, \
                    {alter_column} || CASE x.what \
                        WHEN 'STORAGE' THEN 'SET STORAGE ' || {storage_set} \
                        WHEN 'STATISTICS' THEN 'SET STATISTICS ' || a.attstattarget \
                        ELSE 'SET COMPRESSION ' || CASE a.attcompression WHEN 'p' THEN 'pglz' ELSE 'lz4' END END, \
                    {alter_column} || CASE x.what \
                        WHEN 'STORAGE' THEN 'SET STORAGE ' || {storage_reset} \
                        WHEN 'STATISTICS' THEN 'SET STATISTICS -1' \
                        ELSE 'SET COMPRESSION DEFAULT' END \
             {joined} CROSS JOIN LATERAL (VALUES ('STORAGE', a.attstorage <> t.typstorage), \
                                                 ('STATISTICS', a.attstattarget >= 0), \
                                                 ('COMPRESSION', a.attcompression <> '')) x(what, differs) \
             {user_columns} AND x.differs",
            storage_set = storage("a.attstorage"),
            storage_reset = storage("t.typstorage"),
        ),
        // Options a user sets (`n_distinct`); this server's builds may keep their own under a
        // `pg_` prefix, which no statement sets.
        format!(
            "SELECT 'COLUMN ' || {column} || ' OPTIONS', \
                    {alter_column} || 'SET (' || o.options || ')', {alter_column} || 'RESET (' || o.keys || ')' \
             {joined} CROSS JOIN LATERAL (SELECT string_agg(opt, ', ' ORDER BY opt) AS options, \
                                                 string_agg(split_part(opt, '=', 1), ', ' ORDER BY opt) AS keys \
                                          FROM unnest(a.attoptions) opt WHERE opt NOT LIKE 'pg\\_%') o \
             {user_columns} AND a.attoptions IS NOT NULL AND o.options IS NOT NULL"
        ),
        format!(
            "SELECT 'VIEW ' || {table} || ' OPTIONS', \
                    format('ALTER %s %I.%I SET (%s)', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, \
                           n.nspname, c.relname, array_to_string(c.reloptions, ', ')), \
                    format('ALTER %s %I.%I RESET (%s)', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, \
                           n.nspname, c.relname, (SELECT string_agg(split_part(o, '=', 1), ', ') FROM unnest(c.reloptions) o)) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('v', 'm') AND c.reloptions IS NOT NULL AND {USER_SCHEMAS} AND {ext_class}"
        ),
        // The options of an identity's sequence, where they are not the ones ADD GENERATED
        // gives it.
        format!(
            "SELECT 'COLUMN ' || {column} || ' IDENTITY', \
                    {alter_column} || format('SET START WITH %s SET INCREMENT BY %s SET MINVALUE %s SET MAXVALUE %s SET CACHE %s SET %sCYCLE', \
                           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN '' ELSE 'NO ' END), \
                    {alter_column} || format('SET START WITH 1 SET INCREMENT BY 1 SET MINVALUE 1 SET MAXVALUE %s SET CACHE 1 SET NO CYCLE', {max}) \
             FROM pg_depend dep JOIN pg_sequence s ON s.seqrelid = dep.objid \
             JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid \
             {rest} AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i' AND a.attidentity <> '' \
               AND (s.seqstart <> 1 OR s.seqincrement <> 1 OR s.seqmin <> 1 OR s.seqmax <> {max} \
                    OR s.seqcache <> 1 OR s.seqcycle)",
            max = "CASE s.seqtypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END",
            rest = columns
                .strip_prefix("FROM pg_attribute a ")
                .unwrap_or(&columns)
        ),
        // The name of an identity's sequence (not a statement: the plan renames the sequence
        // `from` has, or names it in the GENERATED clause that makes it).
        format!(
            "SELECT 'COLUMN ' || {column} || ' IDENTITY SEQUENCE NAME', \
                    format('%I.%I', sn.nspname, sc.relname), NULL::text \
             FROM pg_depend dep JOIN pg_class sc ON sc.oid = dep.objid AND sc.relkind = 'S' \
             JOIN pg_namespace sn ON sn.oid = sc.relnamespace \
             JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid \
             {rest} AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i' AND a.attidentity <> ''",
            rest = columns
                .strip_prefix("FROM pg_attribute a ")
                .unwrap_or(&columns)
        ),
        // A view's column default (what an INSERT through the view gets).
        format!(
            "SELECT 'VIEW_COLUMN ' || {column} || ' DEFAULT', \
                    format('ALTER VIEW %I.%I ALTER COLUMN %I SET DEFAULT %s', n.nspname, c.relname, a.attname, \
                           pg_get_expr(d.adbin, d.adrelid)), \
                    format('ALTER VIEW %I.%I ALTER COLUMN %I DROP DEFAULT', n.nspname, c.relname, a.attname) \
             FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
             JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'v' AND {USER_SCHEMAS} AND {ext_class}"
        ),
        // A materialized view's column statistics target.
        format!(
            "SELECT 'VIEW_COLUMN ' || {column} || ' STATISTICS', \
                    format('ALTER MATERIALIZED VIEW %I.%I ALTER COLUMN %I SET STATISTICS %s', n.nspname, c.relname, a.attname, a.attstattarget), \
                    format('ALTER MATERIALIZED VIEW %I.%I ALTER COLUMN %I SET STATISTICS -1', n.nspname, c.relname, a.attname) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'm' AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget >= 0 \
               AND {USER_SCHEMAS} AND {ext_class}"
        ),
        // An index column's statistics target (`ALTER INDEX … ALTER COLUMN 1 SET STATISTICS`).
        format!(
            "SELECT format('INDEX %I.%I COLUMN_%s_STATISTICS', n.nspname, c.relname, a.attnum), \
                    format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS %s', n.nspname, c.relname, a.attnum, a.attstattarget), \
                    format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS -1', n.nspname, c.relname, a.attnum) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('i', 'I') AND a.attnum > 0 AND a.attstattarget >= 0 \
               AND {USER_SCHEMAS} AND {ext_class}"
        ),
        // The column a sequence belongs to (`OWNED BY`), which a serial sets by itself: only
        // a change on a sequence that stays is planned (see `attached::creations`).
        format!(
            "SELECT format('SEQUENCE %I.%I OWNED_BY', n.nspname, c.relname), \
                    format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I', n.nspname, c.relname, tn.nspname, t.relname, a.attname), \
                    format('ALTER SEQUENCE %I.%I OWNED BY NONE', n.nspname, c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
                              AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 \
             JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
             WHERE c.relkind = 'S' AND {USER_SCHEMAS} AND {ext_class} AND NOT (t.relname = ANY($1))"
        ),
    ]
}

/// Default privileges (`ALTER DEFAULT PRIVILEGES`), one setting per role, schema, kind of
/// object and grantee whose privileges differ from the built-in defaults, as
/// `DEFAULT_PRIVILEGES FOR ROLE r [IN SCHEMA s] ON TABLES TO g GRANTS`: set by revoking all
/// and granting what it holds, reset by granting what the defaults hold (the owner's own, and
/// PUBLIC's EXECUTE on functions and USAGE on types, where no schema is named).
pub(crate) fn default_privileges() -> (Kind, String) {
    (
        Kind::Setting,
        format!(
            "WITH d AS ( \
               SELECT d.defaclrole AS role, d.defaclnamespace AS ns, d.defaclacl AS acl, \
                      CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' \
                                           WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END AS objects, \
                      CASE WHEN d.defaclnamespace = 0 \
                           THEN acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole) \
                           ELSE NULL::aclitem[] END AS builtin \
               FROM pg_default_acl d WHERE {ext} \
             ), g AS ( \
               SELECT d.*, x.grantee, \
                      (SELECT string_agg(e.privilege_type, ', ' ORDER BY e.privilege_type) FROM aclexplode(d.acl) e \
                       WHERE e.grantee = x.grantee AND NOT e.is_grantable) AS held, \
                      (SELECT string_agg(e.privilege_type, ', ' ORDER BY e.privilege_type) FROM aclexplode(d.acl) e \
                       WHERE e.grantee = x.grantee AND e.is_grantable) AS held_with_option, \
                      (SELECT string_agg(e.privilege_type, ', ' ORDER BY e.privilege_type) FROM aclexplode(d.builtin) e \
                       WHERE e.grantee = x.grantee) AS default_held, \
                      format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s', pg_get_userbyid(d.role), \
                             CASE WHEN d.ns = 0 THEN '' ELSE ' IN SCHEMA ' || d.ns::regnamespace::text END) AS alter, \
                      CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END AS who \
               FROM d, LATERAL (SELECT e.grantee FROM aclexplode(d.acl) e \
                                UNION SELECT e.grantee FROM aclexplode(d.builtin) e) x \
             ) \
             SELECT 'DEFAULT_PRIVILEGES ' || substr(alter, 26) || format(' ON %s TO %s GRANTS', objects, who), \
                    format('%s REVOKE ALL ON %s FROM %s', alter, objects, who) \
                    || CASE WHEN held IS NULL THEN '' \
                            ELSE format('; %s GRANT %s ON %s TO %s', alter, held, objects, who) END \
                    || CASE WHEN held_with_option IS NULL THEN '' \
                            ELSE format('; %s GRANT %s ON %s TO %s WITH GRANT OPTION', alter, held_with_option, objects, who) END, \
                    format('%s REVOKE ALL ON %s FROM %s', alter, objects, who) \
                    || CASE WHEN default_held IS NULL THEN '' \
                            ELSE format('; %s GRANT %s ON %s TO %s', alter, default_held, objects, who) END \
             FROM g WHERE coalesce(held, '') <> coalesce(default_held, '') OR held_with_option IS NOT NULL",
            ext = not_in_extension("d.oid"),
        ),
    )
}

/// What `ALTER TABLE … TRIGGER` says for a trigger's `tgenabled`.
fn enabled_state(column: &str) -> String {
    format!(
        "CASE {column} WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' \
                       WHEN 'A' THEN 'ENABLE ALWAYS' ELSE 'ENABLE' END"
    )
}

/// Each object's owner where it is not the reading role (what a plan run by that role makes
/// its new objects with): `TABLE_OWNER public.t OWNER`, set with `ALTER TABLE … OWNER TO`,
/// reset to the role the plan runs as. Tables, views, sequences of their own, routines,
/// types and schemas; read with the privileges (`--with-privileges`).
pub(crate) fn owners() -> (Kind, String) {
    let ext_class = not_in_extension("c.oid");
    let owned = |word: &str, kind: &str, name: &str, owner: &str| {
        format!(
            "SELECT '{word}_OWNER ' || {name} || ' OWNER', \
                    format('ALTER {kind} %s OWNER TO %I', {name}, pg_get_userbyid({owner})), \
                    format('ALTER {kind} %s OWNER TO CURRENT_USER', {name})"
        )
    };
    let relations = [("TABLE", "TABLE", "'r', 'p'"), ("VIEW", "VIEW", "'v'"), ("MATERIALIZED_VIEW", "MATERIALIZED VIEW", "'m'"), ("SEQUENCE", "SEQUENCE", "'S'")]
        .map(|(word, kind, relkinds)| {
            format!(
                "{select} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ({relkinds}) AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
                   AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                                   AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0)",
                select = owned(word, kind, TABLE, "c.relowner"),
            )
        });
    let routines = format!(
        "{select} FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
           AND {USER_SCHEMAS} AND {ext}",
        select = owned(
            "FUNCTION",
            "' || CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END || '",
            &format!(
                "format('%I.%I(%s)', n.nspname, p.proname, {})",
                super::queries::SIGNATURE
            ),
            "p.proowner"
        ),
        ext = not_in_extension("p.oid"),
    );
    let types = format!(
        "{select} FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype IN ('e', 'd', 'c', 'r') AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
           AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
           AND {USER_SCHEMAS} AND {ext}",
        select = owned(
            "TYPE",
            "' || CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END || '",
            "format('%I.%I', n.nspname, t.typname)",
            "t.typowner"
        ),
        ext = not_in_extension("t.oid"),
    );
    let schemas = format!(
        "{select} FROM pg_namespace n \
         WHERE n.nspowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
           AND n.nspname <> 'public' AND {USER_SCHEMAS} AND {ext}",
        select = owned("SCHEMA", "SCHEMA", "quote_ident(n.nspname)", "n.nspowner"),
        ext = not_in_extension("n.oid"),
    );
    // The other kinds with an owner, each row `o` of its catalog: (key word, ALTER word,
    // catalog, name, owner, schema).
    let others = [
        ("PUBLICATION", "PUBLICATION", "pg_publication", "quote_ident(o.pubname)", "o.pubowner", None),
        ("COLLATION", "COLLATION", "pg_collation", "format('%I.%I', n.nspname, o.collname)", "o.collowner", Some("o.collnamespace")),
        ("OPERATOR", "OPERATOR", "pg_operator",
         "format('%I.%s(%s, %s)', n.nspname, o.oprname, coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE'), \
                 coalesce(format_type(nullif(o.oprright, 0), NULL), 'NONE'))",
         "o.oprowner", Some("o.oprnamespace")),
        ("TEXT_SEARCH_CONFIGURATION", "TEXT SEARCH CONFIGURATION", "pg_ts_config",
         "format('%I.%I', n.nspname, o.cfgname)", "o.cfgowner", Some("o.cfgnamespace")),
        ("TEXT_SEARCH_DICTIONARY", "TEXT SEARCH DICTIONARY", "pg_ts_dict",
         "format('%I.%I', n.nspname, o.dictname)", "o.dictowner", Some("o.dictnamespace")),
        ("STATISTICS", "STATISTICS", "pg_statistic_ext",
         "format('%I.%I', n.nspname, o.stxname)", "o.stxowner", Some("o.stxnamespace")),
    ]
    .map(|(word, kind, table, name, owner, schema)| {
        let (join, in_schema) = match schema {
            Some(schema) => (
                format!("JOIN pg_namespace n ON n.oid = {schema}"),
                format!("AND {USER_SCHEMAS}"),
            ),
            None => (String::new(), String::new()),
        };
        format!(
            "{select} FROM {table} o {join} \
             WHERE {owner} <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
               AND o.oid >= {USER_OID} {in_schema} AND {ext}",
            select = owned(word, kind, name, owner),
            ext = not_in_extension("o.oid"),
        )
    });
    let mut all: Vec<String> = relations.into_iter().collect();
    all.extend([routines, types, schemas]);
    all.extend(others);
    (Kind::Setting, all.join(" UNION ALL "))
}
