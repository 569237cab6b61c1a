/* cr_config.h: KEY=VALUE configuration; every key can be overridden by the environment. */
#ifndef CR_CONFIG_H
#define CR_CONFIG_H

/* Loads defaults, then the file at path (NULL: $CONCERT_CONFIG, or none), then the environment.
 * Unknown keys in the file are an error (a typo must not pass silently). Returns CR_OK or
 * CR_E_INVALID with a message in errbuf. Safe to call again (reloads everything). */
int cr_config_load(const char *path, char *errbuf, int errlen);

/* The value of a known key as a string owned by the config (never NULL for known keys;
 * NULL for unknown ones). Valid until the next cr_config_load(). */
const char *cr_config_get(const char *key);
/* The value as an integer; the key's default when the value is not a valid integer. */
long long cr_config_int(const char *key);

/* Sets a value in memory (tests). Returns CR_OK or CR_E_INVALID for an unknown key. */
int cr_config_set(const char *key, const char *value);

#endif
