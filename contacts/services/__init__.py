"""Writes of the Contacts section (guide §8): contacts, tags, attributes, mass edit, targets, opt-outs, opt-out
words, imports and exports.

Every public function is one transaction with an audit entry; values are validated by ``contacts.values`` wherever
they come from. Mass operations are single SQL statements over the selection, never one query per contact.
The package re-exports every public name, so ``from contacts import services; services.contact_create(...)``
keeps working whatever module a service lives in.
"""

from contacts.services._common import CONTACT_AUDIT_FIELDS, NAME_MAX, RESERVED_NAMES
from contacts.services.attributes import (
    attribute_create,
    attribute_delete,
    attribute_indexes_request,
    attribute_update,
)
from contacts.services.contacts import ContactData, contact_create, contact_delete, contact_update
from contacts.services.mass_edit import (
    CLEARABLE_FIELDS,
    MassEdit,
    contacts_mass_delete,
    contacts_mass_update,
)
from contacts.services.optout import (
    OptOutWordData,
    contact_optout_remove,
    contact_optout_set,
    optout_inbound_apply,
    optout_word_create,
    optout_word_delete,
    optout_word_update,
)
from contacts.services.tags import tag_create, tag_delete, tag_rename
from contacts.services.targets import (
    clean_target_filters,
    target_create,
    target_delete,
    target_duplicate,
    target_filters_described,
    target_launches_add,
    target_update,
)

__all__ = [
    "CLEARABLE_FIELDS",
    "CONTACT_AUDIT_FIELDS",
    "NAME_MAX",
    "RESERVED_NAMES",
    "ContactData",
    "MassEdit",
    "OptOutWordData",
    "attribute_create",
    "attribute_delete",
    "attribute_indexes_request",
    "attribute_update",
    "clean_target_filters",
    "contact_create",
    "contact_delete",
    "contact_optout_remove",
    "contact_optout_set",
    "contact_update",
    "contacts_mass_delete",
    "contacts_mass_update",
    "optout_inbound_apply",
    "optout_word_create",
    "optout_word_delete",
    "optout_word_update",
    "tag_create",
    "tag_delete",
    "tag_rename",
    "target_create",
    "target_delete",
    "target_duplicate",
    "target_filters_described",
    "target_launches_add",
    "target_update",
]
