/* YAML (one or more documents, so also JSON) into cJSON, through libyaml. Used for kubeconfig
 * files and standalone manifests. */
#ifndef WEIR_YAML_JSON_H
#define WEIR_YAML_JSON_H

#include <stddef.h>

#include <cJSON.h>

/* Parses every document of text into a cJSON array (one item per non-empty document).
 * Plain scalars that read as integers, floats, true/false or null become JSON numbers,
 * booleans and null (YAML 1.2 core schema); quoted scalars stay strings. Anchors/aliases are
 * resolved. Returns NULL with errbuf saying "line L, column C: problem". */
cJSON *yaml_parse_documents(const char *text, size_t length, char *errbuf, size_t errlen);

#endif
