"""Speculative decoding: draft a few tokens per request, verify them in one forward.

``ngram.py`` drafts from the request's own prompt + output (NGRAM), ``draft_model.py`` from
a smaller model with the same tokenizer (STANDALONE); ``drafts.py`` checks drafts against
the grammar; ``acceptance.py`` is the verification rule (greedy prefix match, and the
speculative-sampling rule); ``adaptive.py`` picks each request's draft length;
``decoder.py`` runs one verify step for the scheduler's decoding batch.
"""
