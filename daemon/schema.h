/* schema.h: the journal's migrations, embedded at build time from schema/NNNN_*.sql
 * (cmake/embed_schema.cmake). Each migration moves PRAGMA user_version to its
 * version; they are applied in order, forward only. */
#ifndef TS_SCHEMA_H
#define TS_SCHEMA_H

struct schema_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const unsigned schema_migration_count;

#endif
