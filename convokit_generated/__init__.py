"""The models and operation descriptors of the ConvoKit API, generated from openapi.yaml by
scripts/regen.sh: never edited by hand. `convokit` is the supported client
(`convokit.create_client()`); this package is what it (and its mock server) reads."""
