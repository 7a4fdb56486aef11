//! The catalog queries for what hangs on tables, views and columns beyond their definitions
//! (rules, extended statistics, and settings such as a disabled trigger or FORCE ROW LEVEL
//! SECURITY), and for every kind of object `pg_dump --schema-only` writes that the planner
//! does not model: those are read too, so that two schemas that differ in them are never
//! called equal.

use super::catalog::Kind;

/// The objects of extensions, the system schemas and the history tables are left out.
pub(crate) const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

/// Not owned by an extension.
pub(crate) fn not_in_extension(oid: &str) -> String {
    // A hashed subplan, computed once per query: a correlated NOT EXISTS would scan pg_depend
    // for every row (its index leads with the class, which the callers do not all know). Every
    // membership refers to its extension: the index on what is referred to finds the few
    // rows, where a scan of the whole pg_depend cost a millisecond in each of some forty
    // queries.
    format!(
        "{oid} NOT IN (SELECT e.objid FROM pg_depend e \
                       WHERE e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e')"
    )
}

/// A user's object, not the system's: past the last OID `initdb` hands out.
pub(crate) const USER_OID: &str = "16384";

/// Collations, range types, event triggers and publications, each as the statement that makes
/// it again (an event trigger's enabled state after it).
pub(crate) fn whole_objects() -> Vec<(Kind, String)> {
    let user_object = |oid: &str| format!("{oid} >= {USER_OID} AND {}", not_in_extension(oid));
    vec![
        (
            Kind::Collation,
            format!(
                "SELECT format('%I.%I', n.nspname, c.collname), \
                        format('CREATE COLLATION %I.%I (provider = %s, %s%s)', n.nspname, c.collname, \
                               CASE c.collprovider WHEN 'i' THEN 'icu' ELSE 'libc' END, \
                               CASE WHEN c.collprovider = 'i' THEN format('locale = %L', c.colliculocale) \
                                    ELSE format('lc_collate = %L, lc_ctype = %L', c.collcollate, c.collctype) END, \
                               CASE WHEN c.collisdeterministic THEN '' ELSE ', deterministic = false' END) \
                 FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace \
                 WHERE {USER_SCHEMAS} AND {}",
                user_object("c.oid")
            ),
        ),
        (
            Kind::Range,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        format('CREATE TYPE %I.%I AS RANGE (subtype = %s%s%s%s%s, multirange_type_name = %I.%I)', \
                               n.nspname, t.typname, format_type(r.rngsubtype, NULL), \
                               CASE WHEN r.rngsubopc <> (SELECT o.oid FROM pg_opclass o JOIN pg_am am ON am.oid = o.opcmethod \
                                                         WHERE am.amname = 'btree' AND o.opcdefault AND o.opcintype = r.rngsubtype) \
                                    THEN ', subtype_opclass = ' || (SELECT quote_ident(o.opcname) FROM pg_opclass o WHERE o.oid = r.rngsubopc) \
                                    ELSE '' END, \
                               CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> (SELECT typcollation FROM pg_type WHERE oid = r.rngsubtype) \
                                    THEN ', collation = ' || (SELECT format('%I.%I', cn.nspname, c.collname) FROM pg_collation c \
                                                              JOIN pg_namespace cn ON cn.oid = c.collnamespace WHERE c.oid = r.rngcollation) \
                                    ELSE '' END, \
                               CASE WHEN r.rngcanonical <> 0 THEN ', canonical = ' || r.rngcanonical::regproc ELSE '' END, \
                               CASE WHEN r.rngsubdiff <> 0 THEN ', subtype_diff = ' || r.rngsubdiff::regproc ELSE '' END, \
                               mn.nspname, m.typname) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 JOIN pg_range r ON r.rngtypid = t.oid \
                 JOIN pg_type m ON m.oid = r.rngmultitypid JOIN pg_namespace mn ON mn.oid = m.typnamespace \
                 WHERE {USER_SCHEMAS} AND {}",
                user_object("t.oid")
            ),
        ),
        (
            Kind::EventTrigger,
            format!(
                "SELECT quote_ident(ev.evtname), \
                        format('CREATE EVENT TRIGGER %I ON %s%s EXECUTE FUNCTION %s()', ev.evtname, ev.evtevent, \
                               coalesce(' WHEN TAG IN (' || (SELECT string_agg(quote_literal(t), ', ' ORDER BY o) \
                                                             FROM unnest(ev.evttags) WITH ORDINALITY u(t, o)) || ')', ''), \
                               ev.evtfoid::regproc) \
                        || CASE ev.evtenabled WHEN 'D' THEN format('; ALTER EVENT TRIGGER %I DISABLE', ev.evtname) \
                                              WHEN 'R' THEN format('; ALTER EVENT TRIGGER %I ENABLE REPLICA', ev.evtname) \
                                              WHEN 'A' THEN format('; ALTER EVENT TRIGGER %I ENABLE ALWAYS', ev.evtname) \
                                              ELSE '' END \
                 FROM pg_event_trigger ev WHERE {}",
                user_object("ev.oid")
            ),
        ),
        (
            Kind::Publication,
            format!(
                "SELECT quote_ident(p.pubname), \
                        format('CREATE PUBLICATION %I%s WITH (publish = %L, publish_via_partition_root = %s)', p.pubname, \
                               CASE WHEN p.puballtables THEN ' FOR ALL TABLES' \
                                    ELSE coalesce(' FOR ' || nullif(concat_ws(', ', \
                                      (SELECT string_agg('TABLE ' || r.prrelid::regclass::text \
                                                 || coalesce(' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) \
                                                                      FROM pg_attribute a WHERE a.attrelid = r.prrelid \
                                                                        AND a.attnum = ANY (r.prattrs)) || ')', '') \
                                                 || coalesce(' WHERE (' || pg_get_expr(r.prqual, r.prrelid) || ')', ''), \
                                                 ', ' ORDER BY r.prrelid::regclass::text) \
                                       FROM pg_publication_rel r WHERE r.prpubid = p.oid), \
                                      (SELECT string_agg('TABLES IN SCHEMA ' || s.pnnspid::regnamespace::text, ', ' ORDER BY 1) \
                                       FROM pg_publication_namespace s WHERE s.pnpubid = p.oid)), ''), '') END, \
                               concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END, \
                                         CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END), \
                               CASE WHEN p.pubviaroot THEN 'true' ELSE 'false' END) \
                 FROM pg_publication p WHERE {}",
                user_object("p.oid")
            ),
        ),
    ]
}

/// Casts, operators and text search dictionaries and configurations, each as the statement
/// that makes it again (a configuration's mappings after it).
pub(crate) fn casts_operators_text_search() -> Vec<(Kind, String)> {
    let user_object = |oid: &str| format!("{oid} >= {USER_OID} AND {}", not_in_extension(oid));
    vec![
        (
            Kind::Cast,
            // Not the ones a range type makes to its multirange.
            format!(
                "SELECT format('(%s AS %s)', format_type(c.castsource, NULL), format_type(c.casttarget, NULL)), \
                        format('CREATE CAST (%s AS %s) %s%s', format_type(c.castsource, NULL), \
                               format_type(c.casttarget, NULL), \
                               CASE c.castmethod WHEN 'f' THEN 'WITH FUNCTION ' || c.castfunc::regprocedure::text \
                                                 WHEN 'i' THEN 'WITH INOUT' ELSE 'WITHOUT FUNCTION' END, \
                               CASE c.castcontext WHEN 'a' THEN ' AS ASSIGNMENT' WHEN 'i' THEN ' AS IMPLICIT' ELSE '' END) \
                 FROM pg_cast c WHERE {} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_cast'::regclass \
                                   AND i.objid = c.oid AND i.deptype = 'i')",
                user_object("c.oid")
            ),
        ),
        (
            Kind::Operator,
            // Not a shell (an operator only named as another's commutator or negator).
            format!(
                "SELECT format('%I.%s(%s, %s)', n.nspname, o.oprname, \
                               coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE'), \
                               coalesce(format_type(nullif(o.oprright, 0), NULL), 'NONE')), \
                        format('CREATE OPERATOR %I.%s (%s)', n.nspname, o.oprname, concat_ws(', ', \
                               'FUNCTION = ' || o.oprcode::text, \
                               'LEFTARG = ' || format_type(nullif(o.oprleft, 0), NULL), \
                               'RIGHTARG = ' || format_type(nullif(o.oprright, 0), NULL), \
                               (SELECT format('COMMUTATOR = OPERATOR(%I.%s)', cn.nspname, c.oprname) \
                                FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom), \
                               (SELECT format('NEGATOR = OPERATOR(%I.%s)', cn.nspname, c.oprname) \
                                FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprnegate), \
                               'RESTRICT = ' || nullif(o.oprrest, 0)::regproc::text, \
                               'JOIN = ' || nullif(o.oprjoin, 0)::regproc::text, \
                               CASE WHEN o.oprcanhash THEN 'HASHES' END, \
                               CASE WHEN o.oprcanmerge THEN 'MERGES' END)) \
                 FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
                 WHERE o.oprcode <> 0 AND {USER_SCHEMAS} AND {}",
                user_object("o.oid")
            ),
        ),
        (
            Kind::TextSearchDictionary,
            format!(
                "SELECT format('%I.%I', n.nspname, d.dictname), \
                        format('CREATE TEXT SEARCH DICTIONARY %I.%I (TEMPLATE = %I.%I%s)', n.nspname, d.dictname, \
                               tn.nspname, t.tmplname, coalesce(', ' || d.dictinitoption, '')) \
                 FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace \
                 JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = t.tmplnamespace \
                 WHERE {USER_SCHEMAS} AND {}",
                user_object("d.oid")
            ),
        ),
        (
            Kind::TextSearchConfiguration,
            // Its mappings one statement each, by token type, after the one that creates it.
            format!(
                "SELECT format('%I.%I', n.nspname, c.cfgname), \
                        format('CREATE TEXT SEARCH CONFIGURATION %I.%I (PARSER = %I.%I)', n.nspname, c.cfgname, \
                               pn.nspname, p.prsname) \
                        || coalesce((SELECT string_agg(format('; ALTER TEXT SEARCH CONFIGURATION %I.%I ADD MAPPING FOR %s WITH %s', \
                                                              n.nspname, c.cfgname, t.alias, m.dicts), '' ORDER BY t.alias) \
                                     FROM (SELECT maptokentype, string_agg(mapdict::regdictionary::text, ', ' ORDER BY mapseqno) AS dicts \
                                           FROM pg_ts_config_map WHERE mapcfg = c.oid GROUP BY maptokentype) m \
                                     JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype), '') \
                 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace \
                 JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace pn ON pn.oid = p.prsnamespace \
                 WHERE {USER_SCHEMAS} AND {}",
                user_object("c.oid")
            ),
        ),
    ]
}

/// Rules (not the `_RETURN` rule that makes a view) as `CREATE RULE`, keyed `schema.table.rule`;
/// extended statistics as `CREATE STATISTICS`.
pub(crate) fn rules_and_statistics() -> Vec<(Kind, String)> {
    let ext_class = not_in_extension("c.oid");
    vec![
        (
            Kind::Rule,
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, r.rulename), \
                        rtrim(pg_get_ruledef(r.oid, true), ';') \
                 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT (c.relname = ANY($1))"
            ),
        ),
        (
            Kind::Statistics,
            format!(
                "SELECT format('%I.%I', n.nspname, s.stxname), pg_get_statisticsobjdef(s.oid) \
                        || CASE WHEN s.stxstattarget >= 0 THEN '; ALTER STATISTICS ' \
                           || format('%I.%I', n.nspname, s.stxname) || ' SET STATISTICS ' || s.stxstattarget ELSE '' END \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace \
                 JOIN pg_class c ON c.oid = s.stxrelid \
                 WHERE {USER_SCHEMAS} AND {ext} AND NOT (c.relname = ANY($1))",
                ext = not_in_extension("s.oid"),
            ),
        ),
    ]
}

/// A user's object, as the unmodelled queries filter it: past `initdb`'s OIDs, in no extension.
fn user_object(oid: &str) -> String {
    format!("{oid} >= {USER_OID} AND {}", not_in_extension(oid))
}

/// Operator classes and families, conversions, inherited columns' own settings, foreign data,
/// subscriptions, and grants on extensions' objects.
fn unmodelled_objects() -> Vec<String> {
    vec![
        format!(
            "SELECT format('OPERATOR CLASS %I.%I USING %s', n.nspname, o.opcname, am.amname), \
                    concat_ws(' ', o.opcintype::regtype, o.opcdefault, o.opckeytype, \
                              (SELECT string_agg(format('%s %s', p.amopstrategy, p.amopopr::regoperator), ', ' ORDER BY p.amopstrategy) \
                               FROM pg_amop p WHERE p.amopfamily = o.opcfamily), \
                              (SELECT string_agg(format('%s %s', p.amprocnum, p.amproc::regprocedure), ', ' ORDER BY p.amprocnum) \
                               FROM pg_amproc p WHERE p.amprocfamily = o.opcfamily)) \
             FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace JOIN pg_am am ON am.oid = o.opcmethod \
             WHERE {USER_SCHEMAS} AND {}",
            user_object("o.oid")
        ),
        format!(
            "SELECT format('OPERATOR FAMILY %I.%I USING %s', n.nspname, f.opfname, am.amname), '' \
             FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod \
             WHERE {USER_SCHEMAS} AND {}",
            user_object("f.oid")
        ),
        format!(
            "SELECT format('CONVERSION %I.%I', n.nspname, c.conname), \
                    concat_ws(' ', c.conforencoding, c.contoencoding, c.conproc::regproc, c.condefault) \
             FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE {USER_SCHEMAS} AND {}",
            user_object("c.oid")
        ),
        // A column a child table inherits and gives its own default or NOT NULL: the child
        // is modelled without its inherited columns, which its parent's changes reach.
        format!(
            "SELECT format('COLUMN %I.%I.%I (inherited)', n.nspname, c.relname, a.attname), \
                    concat_ws(' ', CASE WHEN a.attnotnull THEN 'not null' END, \
                              'default ' || pg_get_expr(d.adbin, d.adrelid)) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND NOT a.attislocal \
               AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i \
                               JOIN pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = a.attname \
                               LEFT JOIN pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum \
                               WHERE i.inhrelid = c.oid AND pa.attnotnull = a.attnotnull \
                                 AND pg_get_expr(pd.adbin, pd.adrelid) IS NOT DISTINCT FROM pg_get_expr(d.adbin, d.adrelid))",
            not_in_extension("c.oid")
        ),
        format!(
            "SELECT format('FOREIGN DATA WRAPPER %I', w.fdwname), \
                    concat_ws(' ', w.fdwhandler::regproc, w.fdwvalidator::regproc, w.fdwoptions::text) \
             FROM pg_foreign_data_wrapper w WHERE {}",
            user_object("w.oid")
        ),
        format!(
            "SELECT format('SERVER %I', s.srvname), \
                    concat_ws(' ', w.fdwname, s.srvtype, s.srvversion, s.srvoptions::text) \
             FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE {}",
            user_object("s.oid")
        ),
        format!(
            "SELECT format('USER MAPPING FOR %s SERVER %I', CASE WHEN u.umuser = 0 THEN 'PUBLIC' \
                           ELSE quote_ident(pg_get_userbyid(u.umuser)) END, s.srvname), u.umoptions::text \
             FROM pg_user_mapping u JOIN pg_foreign_server s ON s.oid = u.umserver WHERE {}",
            user_object("u.oid")
        ),
        format!(
            "SELECT format('FOREIGN TABLE %I.%I', n.nspname, c.relname), \
                    concat_ws(' ', s.srvname, f.ftoptions::text, \
                              (SELECT string_agg(format('%I %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attfdwoptions::text), ', ' ORDER BY a.attnum) \
                               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)) \
             FROM pg_foreign_table f JOIN pg_class c ON c.oid = f.ftrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_foreign_server s ON s.oid = f.ftserver \
             WHERE {USER_SCHEMAS} AND {}",
            not_in_extension("c.oid")
        ),
        // A subscription (its connection string is the superuser's to read; what it
        // subscribes to and how is compared).
        "SELECT format('SUBSCRIPTION %I', s.subname), \
                concat_ws(' ', s.subpublications::text, s.subenabled, s.subbinary, s.substream, \
                          s.subtwophasestate, s.subdisableonerr, s.subslotname, s.subsynccommit) \
         FROM pg_subscription s \
         WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            .to_string(),
        // The privileges on an extension's objects, where they are not the ones the
        // extension's script left (`pg_init_privs`): pg_dump writes them as GRANTs.
        "SELECT format('GRANT ON %s %s (a member of extension %I)', x.kind, x.name, e.extname), x.acl::text \
         FROM ( \
           SELECT 'FUNCTION' AS kind, p.oid::regprocedure::text AS name, p.proacl AS acl, \
                  'pg_proc'::regclass AS class, p.oid AS oid FROM pg_proc p \
           UNION ALL \
           SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass::text, c.relacl, \
                  'pg_class'::regclass, c.oid FROM pg_class c \
           UNION ALL \
           SELECT 'TYPE', t.oid::regtype::text, t.typacl, 'pg_type'::regclass, t.oid FROM pg_type t \
         ) x \
         JOIN pg_depend d ON d.classid = x.class AND d.objid = x.oid AND d.deptype = 'e' \
         JOIN pg_extension e ON e.oid = d.refobjid \
         LEFT JOIN pg_init_privs ip ON ip.classoid = x.class AND ip.objoid = x.oid AND ip.objsubid = 0 \
         WHERE x.acl IS DISTINCT FROM ip.initprivs"
            .to_string(),
    ]
}

/// Text search parsers and templates, base and shell types, languages, access methods,
/// transforms, typed tables, partitions' own indexes, unlogged sequences, and comments on what
/// is not modelled.
fn unmodelled_more() -> Vec<String> {
    vec![
        format!(
            "SELECT format('TEXT SEARCH PARSER %I.%I', n.nspname, p.prsname), '' \
             FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace \
             WHERE {USER_SCHEMAS} AND {}",
            user_object("p.oid")
        ),
        format!(
            "SELECT format('TEXT SEARCH TEMPLATE %I.%I', n.nspname, t.tmplname), '' \
             FROM pg_ts_template t JOIN pg_namespace n ON n.oid = t.tmplnamespace \
             WHERE {USER_SCHEMAS} AND {}",
            user_object("t.oid")
        ),
        // Base and shell types (arrays come with them).
        format!(
            "SELECT format('TYPE %I.%I', n.nspname, t.typname), \
                    concat_ws(' ', t.typtype, t.typinput, t.typoutput) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE (t.typtype = 'p' OR (t.typtype = 'b' AND t.typcategory <> 'A')) \
               AND {USER_SCHEMAS} AND {}",
            user_object("t.oid")
        ),
        // Grants on foreign data wrappers and servers, an extension's too (postgres_fdw):
        // pg_dump writes them, the plan does not (a language's are planned as privileges).
        "SELECT format('GRANTS ON FOREIGN DATA WRAPPER %I', w.fdwname), w.fdwacl::text \
         FROM pg_foreign_data_wrapper w WHERE w.fdwacl IS NOT NULL \
         UNION ALL \
         SELECT format('GRANTS ON SERVER %I', s.srvname), s.srvacl::text \
         FROM pg_foreign_server s WHERE s.srvacl IS NOT NULL"
            .to_string(),
        format!(
            "SELECT format('LANGUAGE %I', l.lanname), concat_ws(' ', l.lanpltrusted, l.lanplcallfoid) \
             FROM pg_language l WHERE {}",
            user_object("l.oid")
        ),
        format!(
            "SELECT format('ACCESS METHOD %I', a.amname), concat_ws(' ', a.amtype, a.amhandler) \
             FROM pg_am a WHERE {}",
            user_object("a.oid")
        ),
        format!(
            "SELECT format('TRANSFORM FOR %s LANGUAGE %s', t.trftype::regtype, t.trflang), \
                    concat_ws(' ', t.trffromsql, t.trftosql) FROM pg_transform t WHERE {}",
            user_object("t.oid")
        ),
        // A typed table (`CREATE TABLE … OF type`), and a table not in the default access method.
        format!(
            "SELECT format('TABLE %I.%I', n.nspname, c.relname), \
                    concat_ws(' ', 'of ' || nullif(c.reloftype, 0)::regtype, 'using ' || am.amname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_am am ON am.oid = c.relam AND am.amname <> 'heap' \
             WHERE c.relkind IN ('r', 'p') AND (c.reloftype <> 0 OR am.oid IS NOT NULL) \
               AND {USER_SCHEMAS} AND {}",
            not_in_extension("c.oid")
        ),
        // A partition's own index attached to its parent's: the plan creates partitions
        // through their parent, whose indexes give theirs the server's generated names, so a
        // name chosen by hand is a difference the plan cannot make yet.
        format!(
            "SELECT format('INDEX %I.%I ON PARTITION %I.%I', n.nspname, ic.relname, n.nspname, c.relname), \
                    pg_get_indexdef(i.indexrelid) || '; attached to ' || \
                    (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits ih \
                     JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
                     WHERE ih.inhrelid = i.indexrelid) \
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = ic.relnamespace \
             WHERE EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid) \
               AND {USER_SCHEMAS} AND {} AND NOT (c.relname = ANY($1))",
            not_in_extension("c.oid")
        ),
        // An unlogged sequence (PostgreSQL 15's `CREATE UNLOGGED SEQUENCE`), but not one an
        // unlogged table's column owns: the table makes its serial or identity sequence
        // unlogged by itself.
        format!(
            "SELECT format('UNLOGGED SEQUENCE %I.%I', n.nspname, c.relname), 'unlogged' \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'S' AND c.relpersistence = 'u' AND {USER_SCHEMAS} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid \
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
                                 AND t.relpersistence = 'u')",
            not_in_extension("c.oid")
        ),
        // Comments on objects whose comments are not modelled (operator classes, …); an
        // extension's comment is its script's, and comes and goes with it.
        format!(
            "SELECT 'COMMENT ON ' || pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description \
             FROM pg_description d \
             WHERE d.objoid >= {USER_OID} AND d.classoid NOT IN ('pg_class'::regclass, 'pg_proc'::regclass, \
                   'pg_type'::regclass, 'pg_namespace'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, \
                   'pg_extension'::regclass, 'pg_policy'::regclass, 'pg_rewrite'::regclass, 'pg_collation'::regclass, \
                   'pg_ts_config'::regclass, 'pg_ts_dict'::regclass, 'pg_event_trigger'::regclass, \
                   'pg_publication'::regclass, 'pg_statistic_ext'::regclass) \
               AND {}",
            not_in_extension("d.objoid")
        ),
    ]
}

/// Every object of a kind the planner does not model, named as `pg_dump` would name it, with
/// the catalog's description of it as its definition: a change in any of them is a
/// difference, which the planner reports as one it cannot generate. Default privileges too,
/// when privileges are not planned.
pub(crate) fn unmodelled(privileges: bool) -> Vec<(Kind, String)> {
    let queries = unmodelled_objects().into_iter().chain(unmodelled_more());
    let mut queries: Vec<(Kind, String)> = queries.map(|q| (Kind::Unmodelled, q)).collect();
    // Default privileges name roles: planned with the other privileges, reported without.
    if !privileges {
        queries.push((
            Kind::Unmodelled,
            format!(
                "SELECT format('DEFAULT PRIVILEGES FOR ROLE %I%s ON %s', pg_get_userbyid(d.defaclrole), \
                               coalesce(' IN SCHEMA ' || d.defaclnamespace::regnamespace::text, ''), d.defaclobjtype), \
                        d.defaclacl::text \
                 FROM pg_default_acl d WHERE {}",
                user_object("d.oid")
            ),
        ));
    }
    queries
}

/// Every dependency between two user objects the catalog keys, from `pg_depend` (a view's
/// through its `_RETURN` rule; a default's or a generation expression's as its column's;
/// a `BEGIN ATOMIC` body's as its routine's), as (`kind name` of the dependent, of what it
/// depends on). Internal dependencies (an index a constraint owns, a column's own type) are
/// left out: they come and go with their owner; so are the triggers a foreign key makes.
/// A pair may come more than once (the catalog keeps a set).
pub(crate) fn dependencies() -> String {
    // Every user object the catalog keys, as (classid, objid, objsubid, `kind name`), built
    // set by set and joined to pg_depend twice: per-row lookups cost a query per dependency.
    // A table's or a view's row type is keyed as its relation, an array type as its element:
    // a routine taking `t[]` or returning `SETOF v` depends on `t` and `v`.
    let relation = "JOIN pg_namespace n ON n.oid = c.relnamespace";
    format!(
        "WITH keys (classid, objid, objsubid, key) AS MATERIALIZED ( \
           SELECT 'pg_class'::regclass, c.oid, 0, \
                  CASE WHEN c.relkind IN ('r', 'p') THEN 'table ' WHEN c.relkind IN ('v', 'm') THEN 'view ' \
                       WHEN c.relkind = 'i' THEN 'index ' ELSE 'sequence ' END || format('%I.%I', n.nspname, c.relname) \
           FROM pg_class c {relation} WHERE c.oid >= {USER_OID} AND c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S') \
           UNION ALL \
           SELECT 'pg_class'::regclass, c.oid, a.attnum, \
                  CASE WHEN c.relkind IN ('r', 'p') THEN format('column %I.%I.%I', n.nspname, c.relname, a.attname) \
                       ELSE format('view %I.%I', n.nspname, c.relname) END \
           FROM pg_class c {relation} JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
           WHERE c.oid >= {USER_OID} AND c.relkind IN ('r', 'p', 'v', 'm') \
           UNION ALL \
           SELECT 'pg_proc'::regclass, p.oid, 0, format('function %I.%I(%s)', n.nspname, p.proname, \
                  CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*' ELSE pg_get_function_identity_arguments(p.oid) END) \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_type'::regclass, t.oid, 0, \
                  CASE WHEN rc.relkind IN ('r', 'p') THEN format('table %I.%I', rn.nspname, rc.relname) \
                       WHEN rc.relkind IN ('v', 'm') THEN format('view %I.%I', rn.nspname, rc.relname) \
                       ELSE format('type %I.%I', n.nspname, e.typname) END \
           FROM pg_type t \
           JOIN pg_type e ON e.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END \
           JOIN pg_namespace n ON n.oid = e.typnamespace \
           LEFT JOIN pg_class rc ON rc.oid = e.typrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
           WHERE t.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_constraint'::regclass, con.oid, 0, format('constraint %I.%I.%I', n.nspname, c.relname, con.conname) \
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid {relation} WHERE con.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_constraint'::regclass, con.oid, 0, format('domain_constraint %I.%I.%I', n.nspname, t.typname, con.conname) \
           FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE con.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_trigger'::regclass, tg.oid, 0, format('trigger %I.%I.%I', n.nspname, c.relname, tg.tgname) \
           FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid {relation} WHERE tg.oid >= {USER_OID} AND NOT tg.tgisinternal \
           UNION ALL \
           SELECT 'pg_policy'::regclass, pol.oid, 0, format('policy %I.%I.%I', n.nspname, c.relname, pol.polname) \
           FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid {relation} WHERE pol.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_attrdef'::regclass, ad.oid, 0, format('column %I.%I.%I', n.nspname, c.relname, a.attname) \
           FROM pg_attrdef ad JOIN pg_class c ON c.oid = ad.adrelid {relation} \
           JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum WHERE ad.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_publication_rel'::regclass, pr.oid, 0, format('publication %I', p.pubname) \
           FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE pr.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_operator'::regclass, o.oid, 0, format('operator %I.%s(%s, %s)', n.nspname, o.oprname, \
                  coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE'), \
                  coalesce(format_type(nullif(o.oprright, 0), NULL), 'NONE')) \
           FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE o.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_cast'::regclass, c.oid, 0, \
                  format('cast (%s AS %s)', format_type(c.castsource, NULL), format_type(c.casttarget, NULL)) \
           FROM pg_cast c WHERE c.oid >= {USER_OID} \
           UNION ALL \
           SELECT 'pg_rewrite'::regclass, r.oid, 0, \
                  CASE WHEN r.rulename = '_RETURN' THEN format('view %I.%I', n.nspname, c.relname) \
                       ELSE format('rule %I.%I.%I', n.nspname, c.relname, r.rulename) END \
           FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class {relation} WHERE r.oid >= {USER_OID} \
         ) \
         SELECT o.key, r.key FROM pg_depend d \
         JOIN keys o ON o.classid = d.classid AND o.objid = d.objid AND o.objsubid = d.objsubid \
         JOIN keys r ON r.classid = d.refclassid AND r.objid = d.refobjid AND r.objsubid = d.refobjsubid \
         WHERE d.deptype IN ('n', 'a') AND o.key <> r.key"
    )
}
