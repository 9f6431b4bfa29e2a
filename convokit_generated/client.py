"""No client here: `convokit` is the supported client of this API.

    from convokit import create_client
    client = create_client()                            # reads CONVOKIT_SECRET_KEY
    client.chat(message="Hi")                           # or client.api.<operation>(...)

It adds what a generated wrapper lacks: the key kept out of logs and errors, retries that
never answer a message twice, deadlines, typed errors. This package (convokit_generated)
holds the models, each operation's request builder and descriptor
(`convokit_generated.api.OPERATIONS`), written by scripts/regen.sh from openapi.yaml.
"""
