"""Quickstart: a chat program with gen() and select() on the default model.

    python examples/quickstart.py
"""
import sglike as sgl


@sgl.program
def qa(s, question):
    s += sgl.system("You are a terse assistant.")
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=48, stop="\n"))
    s += sgl.user("Was that answer confident? Reply yes or no.")
    s += sgl.assistant(sgl.select("confident", choices=["yes", "no"]))


def main() -> None:
    backend = sgl.Runtime()  # SmolLM2-135M-Instruct on this machine; or sgl.RuntimeEndpoint("http://localhost:30000")
    sgl.set_default_backend(backend)
    try:
        state = qa.run(question="What is the tallest mountain on Earth?", temperature=0)
        print("answer:   ", state["answer"])
        print("confident:", state["confident"])
        print("messages: ", [m["role"] for m in state.messages()])

        print("streaming: ", end="")
        stream = qa.run(question="Name a primary color.", stream=True, temperature=0)
        for chunk in stream.text_iter("answer"):
            print(chunk, end="", flush=True)
        print()

        states = qa.run_batch([{"question": q} for q in ("What is 2+2?", "Capital of Italy?")], temperature=0)
        for st in states:
            print("batch:", st["answer"])
    finally:
        backend.shutdown()


if __name__ == "__main__":
    main()
