"""The regex pipeline: Python-`re` syntax -> regular IR -> byte NFA -> minimal byte DFA
(`ByteDFA`, also the CFG's terminal automaton), and `DFAGrammar`, its compiled grammar."""
