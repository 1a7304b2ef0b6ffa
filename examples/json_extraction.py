"""Extract structured data with a pydantic schema: the output always validates.

    python examples/json_extraction.py
"""
import json

import pydantic

import sglike as sgl


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=40)
    age: int = pydantic.Field(ge=0, le=130)
    city: str = pydantic.Field(max_length=40)


@sgl.program
def extract(s, text):
    s += sgl.system("Extract the person described in the text as JSON.")
    s += sgl.user(text)
    s += sgl.assistant(sgl.gen("person", json_schema=Person, max_tokens=64))


TEXTS = [
    "Maria Lopez is 34 years old and lives in Madrid.",
    "The carpenter, John Smith (52), moved to Toronto last year.",
]


def main() -> None:
    backend = sgl.Runtime()
    try:
        states = extract.run_batch([{"text": t} for t in TEXTS], backend=backend, temperature=0)
        for text, st in zip(TEXTS, states):
            person = Person.model_validate(json.loads(st["person"]))
            print(f"{text}\n  -> {person!r}")
    finally:
        backend.shutdown()


if __name__ == "__main__":
    main()
