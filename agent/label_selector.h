/* Kubernetes label selectors (metav1.LabelSelector) evaluated against a labels object. */
#ifndef WEIR_AGENT_LABEL_SELECTOR_H
#define WEIR_AGENT_LABEL_SELECTOR_H

#include <stdbool.h>

#include <cJSON.h>

/* selector: {matchLabels: {...}, matchExpressions: [{key, operator, values}]}; an empty
 * selector ({}) matches everything; a NULL selector matches nothing. labels may be NULL (no
 * labels). An unknown operator matches nothing (fail closed) and sets *invalid. */
bool label_selector_matches(const cJSON *selector, const cJSON *labels, bool *invalid);

#endif
