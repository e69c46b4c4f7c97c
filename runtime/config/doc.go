// Package config reads reef's own settings: config.yaml in reef's config
// directory ($XDG_CONFIG_HOME/reef by default) overlaid with environment
// variables (SKILL_DIR, LOG_LEVEL, CACHE_SIZE, MAX_WORKERS, TZ and their
// REEF_ equivalents, REEF_ winning). Invalid values are an error naming the
// file and line or the variable, reported once at start.
//
// It only parses; the engine, server and capabilities validate what they
// consume when they are constructed.
package config
