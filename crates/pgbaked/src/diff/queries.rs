//! The SQL the catalog is read with: one or more queries per [`Kind`], each row a qualified
//! name and a definition (with the parts of a column or a table in fields of their own), and
//! the grants; `coverage` adds the queries of what hangs on relations and of every kind not
//! modelled.

use super::coverage::{self, USER_OID, USER_SCHEMAS, not_in_extension};
use super::kind::Kind;
use super::settings;

/// Every sequence with its options (`type start S increment I min M max X cache C [cycle]`),
/// to be narrowed by a `WHERE`.
const SEQUENCES: &str = "SELECT format('%I.%I', n.nspname, c.relname), \
            format('%s start %s increment %s min %s max %s cache %s%s', \
                   format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
                   s.seqmin, s.seqmax, s.seqcache, \
                   CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) \
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace";

/// A routine's argument types as `DROP` and `COMMENT ON` name it: `*` for an aggregate over
/// no argument (`count(*)`-like).
pub(crate) const SIGNATURE: &str = "CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*' \
     ELSE pg_get_function_identity_arguments(p.oid) END";

/// The aggregates, keyed like functions, each as the `CREATE AGGREGATE` that makes it again
/// (`pg_get_functiondef` refuses aggregates): the options `pg_dump` writes, each only where it
/// is not the default.
fn aggregates() -> String {
    let routine = |oid: &str| {
        format!(
            "(SELECT format('%I.%I', fn.nspname, f.proname) FROM pg_proc f \
              JOIN pg_namespace fn ON fn.oid = f.pronamespace WHERE f.oid = {oid})"
        )
    };
    let modify = |column: &str| {
        format!(
            "CASE {column} WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END"
        )
    };
    format!(
        "SELECT format('%I.%I(%s)', n.nspname, p.proname, {SIGNATURE}), \
                format('CREATE AGGREGATE %I.%I(%s) (%s)', n.nspname, p.proname, \
                       CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END, \
                       concat_ws(', ', \
                           'SFUNC = ' || {sfunc}, \
                           'STYPE = ' || format_type(a.aggtranstype, NULL), \
                           CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END, \
                           CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || {finalfunc} END, \
                           CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END, \
                           CASE WHEN a.aggfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                                THEN 'FINALFUNC_MODIFY = ' || {finalmodify} END, \
                           CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || {combinefunc} END, \
                           CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || {serialfunc} END, \
                           CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || {deserialfunc} END, \
                           'INITCOND = ' || quote_literal(a.agginitval), \
                           CASE WHEN a.aggmtransfn <> 0 THEN 'MSFUNC = ' || {msfunc} || ', MINVFUNC = ' || {minvfunc} \
                                || ', MSTYPE = ' || format_type(a.aggmtranstype, NULL) END, \
                           CASE WHEN a.aggmtransspace <> 0 THEN 'MSSPACE = ' || a.aggmtransspace END, \
                           CASE WHEN a.aggmfinalfn <> 0 THEN 'MFINALFUNC = ' || {mfinalfunc} END, \
                           CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END, \
                           CASE WHEN a.aggmtransfn <> 0 AND a.aggmfinalmodify <> CASE a.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                                THEN 'MFINALFUNC_MODIFY = ' || {mfinalmodify} END, \
                           'MINITCOND = ' || quote_literal(a.aggminitval), \
                           CASE WHEN a.aggsortop <> 0 THEN (SELECT format('SORTOP = OPERATOR(%I.%s)', opn.nspname, o.oprname) \
                                FROM pg_operator o JOIN pg_namespace opn ON opn.oid = o.oprnamespace WHERE o.oid = a.aggsortop) END, \
                           CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END, \
                           CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END)) \
         FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prokind = 'a' AND {USER_SCHEMAS} AND {ext}",
        sfunc = routine("a.aggtransfn"),
        finalfunc = routine("a.aggfinalfn"),
        finalmodify = modify("a.aggfinalmodify"),
        combinefunc = routine("a.aggcombinefn"),
        serialfunc = routine("a.aggserialfn"),
        deserialfunc = routine("a.aggdeserialfn"),
        msfunc = routine("a.aggmtransfn"),
        minvfunc = routine("a.aggminvtransfn"),
        mfinalfunc = routine("a.aggmfinalfn"),
        mfinalmodify = modify("a.aggmfinalmodify"),
        ext = not_in_extension("p.oid"),
    )
}

/// Each role's privileges on tables, views, sequences, schemas, functions, columns and types,
/// beyond the owner's: `TABLE public.users TO reader` and what it holds.
/// Every query the catalog is read with: the modelled objects, what `coverage` adds (whole
/// objects, rules, statistics, settings, the unmodelled), and the grants (see
/// [`Catalog::read_with`]).
pub(crate) fn catalog_queries(privileges: bool) -> Vec<(Kind, String)> {
    let ext_class = not_in_extension("c.oid");
    let mut queries = object_queries(&ext_class);
    queries.extend(coverage::whole_objects());
    queries.extend(coverage::casts_operators_text_search());
    queries.extend(coverage::rules_and_statistics());
    queries.extend(settings::settings());
    queries.extend(coverage::unmodelled(privileges));
    if privileges {
        queries.push(settings::default_privileges());
        queries.push(settings::owners());
    }
    // Without them, each grant is still read, and one that differs is reported: two
    // databases whose privileges differ are never called equal. Both queries over one
    // reading of the objects' ACLs where they are of one kind.
    let objects = privileged_objects(&ext_class);
    let (owner, grants) = (owner_privileges_select(), privileges_select());
    // Grants made by a role other than the owner (one holding them WITH GRANT OPTION): the
    // plan grants as the owner, so these are reported, not planned.
    let granted_by = "SELECT format('GRANTED BY %s ON %s %s TO %s', \
                             quote_ident(pg_get_userbyid(a.grantor)), o.kind, o.name, \
                             CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END), \
                      string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) \
                      FROM objects o, aclexplode(o.acl) a WHERE a.grantor <> o.owner GROUP BY 1";
    if privileges {
        queries.push((
            Kind::Unmodelled,
            format!("{objects} {owner} UNION ALL {granted_by}"),
        ));
        queries.push((Kind::Privilege, format!("{objects} {grants}")));
    } else {
        // Only what differs from the server's defaults (PUBLIC's EXECUTE on a new function
        // is no grant of anyone's): a new object brings no report.
        let beyond_defaults = grants.replace(
            "WHERE a.grantee <> o.owner",
            "WHERE a.grantee <> o.owner AND (a.grantee, a.privilege_type) NOT IN ( \
               SELECT x.grantee, x.privilege_type FROM aclexplode(acldefault( \
                 CASE o.kind WHEN 'TABLE' THEN 'r' WHEN 'SEQUENCE' THEN 's' WHEN 'SCHEMA' THEN 'n' \
                             WHEN 'TYPE' THEN 'T' WHEN 'COLUMN' THEN 'c' WHEN 'LANGUAGE' THEN 'l' ELSE 'f' END::\"char\", o.owner)) x)",
        );
        queries.push((
            Kind::Unmodelled,
            format!(
                "{objects} {owner} UNION ALL {granted_by} UNION ALL \
                 SELECT 'GRANT ON ' || g.name, g.privileges FROM ({beyond_defaults}) AS g(name, privileges)"
            ),
        ));
    }
    queries
}

/// The queries of the modelled kinds, one or more per [`Kind`], each row a qualified name and
/// a definition (a column's also its position, a setting's also its reset).
fn object_queries(ext_class: &str) -> Vec<(Kind, String)> {
    let mut queries = type_queries(ext_class);
    queries.extend(relation_queries(ext_class));
    queries.extend(routine_and_annotation_queries(ext_class));
    queries
}

/// Extensions, schemas, types and sequences.
fn type_queries(ext_class: &str) -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Extension,
            "SELECT quote_ident(x.extname), 'schema ' || quote_ident(n.nspname) FROM pg_extension x \
             JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'"
                .into(),
        ),
        (
            Kind::Schema,
            format!(
                "SELECT quote_ident(n.nspname), '' FROM pg_namespace n WHERE {USER_SCHEMAS} AND n.nspname <> 'public' AND {}",
                not_in_extension("n.oid")
            ),
        ),
        (
            Kind::Enum,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 JOIN pg_enum e ON e.enumtypid = t.oid \
                 WHERE {USER_SCHEMAS} AND {} GROUP BY 1",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Domain,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        format_type(t.typbasetype, t.typtypmod) \
                        || CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) \
                                THEN ' COLLATE ' || (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co \
                                                     JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) \
                                ELSE '' END \
                        || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END \
                        || coalesce(' DEFAULT ' || t.typdefault, '') \
                        || coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname) \
                                     FROM pg_constraint c WHERE c.contypid = t.oid), '') \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype = 'd' AND {USER_SCHEMAS} AND {}",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Composite,
            format!(
                "SELECT format('%I.%I', n.nspname, t.typname), \
                        '(' || string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod), \
                                                 CASE WHEN a.attcollation <> 0 AND a.attcollation <> \
                                                           (SELECT at.typcollation FROM pg_type at WHERE at.oid = a.atttypid) \
                                                      THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) \
                                                      ELSE '' END), \
                                          ', ' ORDER BY a.attnum) || ')' \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE t.typtype = 'c' AND {USER_SCHEMAS} AND {} GROUP BY 1",
                not_in_extension("t.oid")
            ),
        ),
        (
            Kind::Sequence,
            format!(
                "{SEQUENCES} WHERE {USER_SCHEMAS} AND {ext_class} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                                   AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0)"
            ),
        ),
        (
            Kind::OwnedSequence,
            format!(
                "{SEQUENCES} WHERE {USER_SCHEMAS} AND {ext_class} \
                   AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid \
                               AND d.classid = 'pg_class'::regclass \
                               AND d.deptype = 'a' AND d.refobjsubid > 0) \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid \
                                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                                     AND d.deptype = 'a' AND d.refobjsubid > 0 \
                                     AND t.relname = ANY($1))"
            ),
        ),
    ]
}

/// Tables with their storage, columns and constraints; indexes and views.
fn relation_queries(ext_class: &str) -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Table,
            // Each trait in a field of its own (see `TableDef`): a partition key's expression
            // or a bound's string may hold ` partition of ` or ` unlogged`.
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), NULL::text, \
                        CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, \
                        c.relpersistence = 'u', c.relrowsecurity, \
                        (SELECT format('%I.%I', pn.nspname, p.relname) FROM pg_inherits i \
                         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                         WHERE i.inhrelid = c.oid AND c.relispartition), \
                        CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, \
                        (SELECT string_agg(format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno) \
                         FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                         JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                         WHERE i.inhrelid = c.oid AND NOT c.relispartition) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT (c.relname = ANY($1))"
            ),
        ),
        (
            Kind::Storage,
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), \
                        concat_ws('; ', \
                            'with (' || nullif(concat_ws(', ', array_to_string(c.reloptions, ', '), \
                                (SELECT string_agg('toast.' || o, ', ') FROM pg_class tc, unnest(tc.reloptions) o \
                                 WHERE tc.oid = c.reltoastrelid)), '') || ')', \
                            CASE c.relreplident WHEN 'f' THEN 'replica identity full' \
                                                WHEN 'n' THEN 'replica identity nothing' \
                                                WHEN 'i' THEN 'replica identity using index ' || \
                                 (SELECT quote_ident(ic.relname) FROM pg_index x \
                                  JOIN pg_class ic ON ic.oid = x.indexrelid \
                                  WHERE x.indrelid = c.oid AND x.indisreplident) END) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} AND {ext_class} \
                   AND NOT (c.relname = ANY($1)) \
                   AND (c.reloptions IS NOT NULL OR c.relreplident NOT IN ('d', 'p') \
                        OR EXISTS (SELECT 1 FROM pg_class tc WHERE tc.oid = c.reltoastrelid AND tc.reloptions IS NOT NULL))"
            ),
        ),
        (
            Kind::Column,
            // The parts of a column, each in a field of its own: never taken apart again from
            // a text, where a default's string could hold ` DEFAULT ` or ` COLLATE `.
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname), NULL::text, \
                        a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                        CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' \
                                           WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END, \
                        CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END, \
                        CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, \
                        CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 \
                             THEN (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) END \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
                   AND (a.attislocal OR c.relispartition) \
                   AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1))"
            ),
        ),
        (
            Kind::Constraint,
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, con.conname), \
                        CASE WHEN con.contype IN ('p', 'u') AND ic.reloptions IS NOT NULL \
                             THEN regexp_replace(pg_get_constraintdef(con.oid), '( DEFERRABLE( INITIALLY DEFERRED)?)?$', \
                                                 ' WITH (' || array_to_string(ic.reloptions, ', ') || ')\\1') \
                             ELSE pg_get_constraintdef(con.oid) END, \
                        con.contype::text, coalesce(ck.names, '{{}}'), \
                        (SELECT format('%I.%I', fn.nspname, f.relname) FROM pg_class f \
                         JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE f.oid = con.confrelid), \
                        coalesce(fk.names, '{{}}'), con.convalidated \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_class ic ON ic.oid = con.conindid \
                 LEFT JOIN {conkey} ck ON ck.oid = con.oid \
                 LEFT JOIN {confkey} fk ON fk.oid = con.oid \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                   AND con.conparentid = 0 AND con.coninhcount = 0 \
                   AND con.contype <> 't'",
                conkey = constraint_column_names("conkey", "conrelid"),
                confkey = constraint_column_names("confkey", "confrelid"),
            ),
        ),
        (
            Kind::Index,
            format!(
                "SELECT format('%I.%I', n.nspname, ic.relname), pg_get_indexdef(i.indexrelid) \
                        || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END, \
                        format('%I.%I', tn.nspname, c.relname), i.indisunique, i.indpred IS NOT NULL, \
                        {key}, \
                        ARRAY(SELECT DISTINCT quote_ident(a.attname) FROM pg_depend dep \
                              JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid \
                              WHERE dep.classid = 'pg_class'::regclass AND dep.objid = i.indexrelid \
                                AND dep.refclassid = 'pg_class'::regclass AND dep.refobjsubid > 0) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace tn ON tn.oid = c.relnamespace \
                 JOIN pg_namespace n ON n.oid = ic.relnamespace \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                                   AND con.contype IN ('p', 'u', 'x')) \
                   AND NOT EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid)",
                key = column_names("i.indkey::int2[]", "i.indrelid", "AND k.o <= i.indnkeyatts"),
            ),
        ),
        (
            Kind::View,
            format!(
                "SELECT format('%I.%I', n.nspname, c.relname), \
                        CASE c.relkind WHEN 'm' THEN 'materialized ' ELSE '' END || pg_get_viewdef(c.oid, true) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS} AND {ext_class}"
            ),
        ),
    ]
}

/// The names of the columns numbered in the array `numbers` of the relation `relation`, in
/// the array's order, quoted; NULL for a number 0 (an index's expression). `filter` narrows
/// the elements (`k.o` is an element's place).
fn column_names(numbers: &str, relation: &str, filter: &str) -> String {
    format!(
        "ARRAY(SELECT quote_ident(a.attname) FROM unnest({numbers}) WITH ORDINALITY k(n, o) \
               LEFT JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.n \
               WHERE true {filter} ORDER BY k.o)"
    )
}

/// Every user constraint's columns numbered in its array `numbers` (of the relation in its
/// column `relation`), as (oid, names): the names quoted, in the array's order. One join for
/// all the constraints, where an `ARRAY(…)` per row ran a sort and a lookup for each (a
/// tenth of the catalog's read on a 300-table schema).
fn constraint_column_names(numbers: &str, relation: &str) -> String {
    format!(
        "(SELECT k.oid, array_agg(quote_ident(a.attname) ORDER BY k.o) AS names \
          FROM (SELECT x.oid, x.{relation} AS relation, u.n, u.o FROM pg_constraint x \
                CROSS JOIN unnest(x.{numbers}) WITH ORDINALITY u(n, o) WHERE x.oid >= {USER_OID}) k \
          LEFT JOIN pg_attribute a ON a.attrelid = k.relation AND a.attnum = k.n \
          GROUP BY k.oid)"
    )
}

/// Routines, triggers, policies and comments.
fn routine_and_annotation_queries(ext_class: &str) -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Function,
            format!(
                "SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
                        pg_get_functiondef(p.oid), \
                        pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE p.prokind IN ('f', 'p') AND {USER_SCHEMAS} AND {} \
                   AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass \
                                   AND i.objid = p.oid AND i.deptype = 'i')",
                not_in_extension("p.oid")
            ),
        ),
        (Kind::Function, aggregates()),
        (
            Kind::Trigger,
            format!(
                "SELECT format('%I.%I.%I', n.nspname, c.relname, t.tgname), pg_get_triggerdef(t.oid) \
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {USER_SCHEMAS} AND {ext_class}"
            ),
        ),
        (
            Kind::Policy,
            "SELECT format('%I.%I.%I', schemaname, tablename, policyname), \
                    format('AS %s FOR %s TO %s', permissive, cmd, \
                           (SELECT string_agg(quote_ident(r), ', ' ORDER BY r) FROM unnest(roles) r)) \
                    || coalesce(' USING (' || qual || ')', '') \
                    || coalesce(' WITH CHECK (' || with_check || ')', '') \
             FROM pg_policies"
                .into(),
        ),
        (
            Kind::Comment,
            format!(
                // The comments on user objects first (and on schemas: `public` is the
                // system's), a few rows where pg_description holds thousands of the system's;
                // every branch joins those. Half the query's time and its planning.
                "WITH d AS MATERIALIZED (SELECT * FROM pg_description \
                                         WHERE objoid >= {USER_OID} OR classoid = 'pg_namespace'::regclass) \
                 SELECT CASE WHEN d.objsubid = 0 THEN \
                            format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'VIEW' \
                                   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'i' THEN 'INDEX' \
                                   WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname) \
                        ELSE format('COLUMN %I.%I.%I', n.nspname, c.relname, a.attname) END, \
                        d.description \
                 FROM d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid \
                 WHERE {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
                 UNION ALL \
                 SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                               n.nspname, p.proname, {signature}), d.description \
                 FROM d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS} AND {ext_proc} \
                 UNION ALL \
                 SELECT format('TYPE %I.%I', n.nspname, t.typname), d.description \
                 FROM d JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_SCHEMAS} AND {ext_type} \
                 UNION ALL \
                 SELECT format('SCHEMA %I', n.nspname), d.description \
                 FROM d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid \
                 WHERE {USER_SCHEMAS} AND {ext_ns} \
                 UNION ALL \
                 SELECT format('CONSTRAINT %I ON %I.%I', con.conname, n.nspname, c.relname), d.description \
                 FROM d JOIN pg_constraint con ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid \
                 JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} AND NOT (c.relname = ANY($1)) \
                 UNION ALL \
                 SELECT format('CONSTRAINT %I ON DOMAIN %I.%I', con.conname, n.nspname, t.typname), d.description \
                 FROM d JOIN pg_constraint con ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid \
                 JOIN pg_type t ON t.oid = con.contypid JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {USER_SCHEMAS} AND {ext_type} \
                 UNION ALL \
                 SELECT format('TRIGGER %I ON %I.%I', t.tgname, n.nspname, c.relname), d.description \
                 FROM d JOIN pg_trigger t ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid \
                 JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} \
                 UNION ALL \
                 SELECT format('POLICY %I ON %I.%I', p.polname, n.nspname, c.relname), d.description \
                 FROM d JOIN pg_policy p ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid \
                 JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {USER_SCHEMAS} \
                 UNION ALL \
                 SELECT format('RULE %I ON %I.%I', r.rulename, n.nspname, c.relname), d.description \
                 FROM d JOIN pg_rewrite r ON d.classoid = 'pg_rewrite'::regclass AND d.objoid = r.oid \
                 JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS} \
                 UNION ALL \
                 {collations} UNION ALL \
                 {configurations} UNION ALL \
                 {dictionaries} UNION ALL \
                 SELECT format('EVENT TRIGGER %I', o.evtname), d.description \
                 FROM d JOIN pg_event_trigger o ON d.classoid = 'pg_event_trigger'::regclass AND d.objoid = o.oid \
                 WHERE {ext_event} \
                 UNION ALL \
                 SELECT format('PUBLICATION %I', o.pubname), d.description \
                 FROM d JOIN pg_publication o ON d.classoid = 'pg_publication'::regclass AND d.objoid = o.oid \
                 UNION ALL \
                 {statistics}",
                ext_proc = not_in_extension("p.oid"),
                ext_type = not_in_extension("t.oid"),
                ext_ns = not_in_extension("n.oid"),
                collations = comment_in_schema("COLLATION", "pg_collation", "collname", "collnamespace"),
                configurations = comment_in_schema("TEXT SEARCH CONFIGURATION", "pg_ts_config", "cfgname", "cfgnamespace"),
                dictionaries = comment_in_schema("TEXT SEARCH DICTIONARY", "pg_ts_dict", "dictname", "dictnamespace"),
                ext_event = not_in_extension("o.oid"),
                statistics = comment_in_schema("STATISTICS", "pg_statistic_ext", "stxname", "stxnamespace"),
                signature = SIGNATURE,
            ),
        ),
    ]
}

/// The comments on the objects of one catalog table that live in a schema, keyed `WORD
/// schema.name` as `COMMENT ON` names them: a piece of the comments' query (`d` is its
/// comments on user objects).
fn comment_in_schema(word: &str, table: &str, name: &str, namespace: &str) -> String {
    format!(
        "SELECT format('{word} %I.%I', n.nspname, o.{name}), d.description \
         FROM d JOIN {table} o ON d.classoid = '{table}'::regclass AND d.objoid = o.oid \
         JOIN pg_namespace n ON n.oid = o.{namespace} WHERE {USER_SCHEMAS} AND {}",
        not_in_extension("o.oid")
    )
}

/// The objects whose owner holds other privileges than the server gives an owner (`REVOKE
/// DELETE ON t FROM` its owner), as `OWNER PRIVILEGES ON TABLE public.t` with what the owner
/// holds: not planned, but never called equal.
fn owner_privileges_select() -> String {
    let held = |acl: &str| {
        format!(
            "(SELECT string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, \
                                ', ' ORDER BY a.privilege_type) \
              FROM aclexplode({acl}) a WHERE a.grantee = o.owner)"
        )
    };
    let default = "acldefault(CASE o.kind WHEN 'TABLE' THEN 'r' WHEN 'SEQUENCE' THEN 's' \
                   WHEN 'SCHEMA' THEN 'n' WHEN 'TYPE' THEN 'T' WHEN 'LANGUAGE' THEN 'l' ELSE 'f' END::\"char\", o.owner)";
    format!(
        "SELECT format('OWNER PRIVILEGES ON %s %s', o.kind, o.name), coalesce({}, 'none') \
         FROM objects o WHERE o.kind <> 'COLUMN' AND {} IS DISTINCT FROM {}",
        held("o.acl"),
        held("o.acl"),
        held(default),
    )
}

/// Each role's privileges on each object beyond its owner's, as `KIND name TO role` and what
/// it holds (see [`Catalog::read_with`]).
fn privileges_select() -> String {
    "SELECT format('%s %s TO %s', o.kind, o.name, \
                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END), \
                string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, \
                           ', ' ORDER BY a.privilege_type) \
         FROM objects o, aclexplode(o.acl) a \
         WHERE a.grantee <> o.owner \
         GROUP BY 1"
        .into()
}

/// The objects privileges are granted on, with their ACL (the server's default where none
/// was set) and owner: `WITH objects AS (kind, name, acl, owner)`, for the queries above.
fn privileged_objects(ext_class: &str) -> String {
    format!(
        "WITH objects AS ( \
           SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, \
                  format('%I.%I', n.nspname, c.relname) AS name, \
                  coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)) AS acl, \
                  c.relowner AS owner \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
           UNION ALL \
           SELECT 'SCHEMA', quote_ident(n.nspname), coalesce(n.nspacl, acldefault('n', n.nspowner)), n.nspowner \
           FROM pg_namespace n WHERE {USER_SCHEMAS} AND {ext_ns} \
           UNION ALL \
           SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                  format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
                  coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
           WHERE p.prokind IN ('f', 'p') AND {USER_SCHEMAS} AND {ext_proc} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                             AND d.objid = p.oid AND d.deptype = 'i') \
           UNION ALL \
           SELECT 'COLUMN', format('%I.%I(%I)', n.nspname, c.relname, a.attname), \
                  a.attacl, c.relowner \
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped \
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND {USER_SCHEMAS} AND {ext_class} AND NOT (c.relname = ANY($1)) \
           UNION ALL \
           SELECT 'LANGUAGE', quote_ident(l.lanname), coalesce(l.lanacl, acldefault('l', l.lanowner)), l.lanowner \
           FROM pg_language l WHERE l.lanpltrusted \
           UNION ALL \
           SELECT 'TYPE', format('%I.%I', n.nspname, t.typname), \
                  coalesce(t.typacl, acldefault('T', t.typowner)), t.typowner \
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
           WHERE t.typtype IN ('e', 'd', 'c', 'r') AND {USER_SCHEMAS} AND {ext_type} \
             AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c')) \
         )",
        ext_ns = not_in_extension("n.oid"),
        ext_proc = not_in_extension("p.oid"),
        ext_type = not_in_extension("t.oid"),
    )
}
