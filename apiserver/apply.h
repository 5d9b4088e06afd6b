// Server-side apply (PATCH application/apply-patch+yaml): the fields a manager
// applied are recorded in metadata.managedFields (FieldsV1), so that a later apply
// by the same manager that leaves a field out removes it, as kube-apiserver does.
// Conflicts between managers are not tracked: the last apply wins.
#pragma once
#include <string>

#include "common/json.h"
#include "common/patch.h"

namespace k1s {

// The FieldsV1 set of an applied configuration: {"f:spec": {"f:replicas": {}, ...}},
// keyed list items as "k:{\"name\":\"c\"}", set members as "v:\"x\"". apiVersion, kind,
// metadata.name/namespace and status are not part of it (kube strips them too).
Json appliedFieldSet(const Json& applied, const ListStrategyLookup& lookup);

// An object holding every field of a FieldsV1 set (values are placeholders, keyed
// list items carry their keys): the "last applied" side of a three-way merge.
Json fieldSetSkeleton(const Json& fieldsV1);

// The object after `manager` applies `applied` to `live`: the three-way strategic
// merge from the manager's previous set, with its managedFields entry replaced.
Json serverSideApply(const Json& live, const Json& applied, const std::string& manager,
                     const std::string& apiVersion, const ListStrategyLookup& lookup, const std::string& now);

// The managedFields entry for an apply.
Json applyEntry(const std::string& manager, const std::string& apiVersion, const Json& fieldsV1,
                const std::string& now);

}  // namespace k1s
