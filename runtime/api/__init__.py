"""The API-process side of a request (text in, text out), shared by the HTTP server and the
offline ``Engine``: tokenizer loading, request building and validation (the one prompt-length
check), incremental detokenization, stop-string hold-back/trim and output assembly.

Nothing here imports the scheduler, the model or the KV memory. The engine imports three
text utilities from here: ``tokenizer.load_tokenizer`` (grammar vocabularies),
``stop.StopStrings.find`` (the one stop-string matcher) and ``limits.length_problem`` (its
guard against requests that skipped the builder).
"""
