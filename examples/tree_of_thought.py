"""Tree-of-thought with forks: expand several thoughts in parallel (the branches of a fork
reach the engine as one batch), score them with select(), expand the best one.

    python examples/tree_of_thought.py
"""
import sglike as sgl


@sgl.program
def tree_of_thought(s, question, width=3, depth=2):
    s += sgl.user(question)
    s += sgl.assistant_begin()
    for level in range(depth):
        forks = s.fork(width)
        for i, f in enumerate(forks):
            f += f"Idea {level + 1}.{i + 1}: " + sgl.gen("thought", max_tokens=16, stop="\n", temperature=0.8)
            f += "\nIs this idea useful? " + sgl.select("useful", choices=["yes", "no"])
        forks.join()
        best = next((t for t, u in zip(s["thought"], s["useful"]) if u == "yes"), s["thought"][0])
        s += f"Step {level + 1}: {best}\n"
    s += "Conclusion: " + sgl.gen("conclusion", max_tokens=24, stop="\n")
    s += sgl.assistant_end()


def main() -> None:
    backend = sgl.Runtime()
    try:
        state = tree_of_thought.run(question="How can I keep my houseplants alive while on vacation?",
                                    backend=backend)
        print(state.messages()[-1]["content"])
    finally:
        backend.shutdown()


if __name__ == "__main__":
    main()
