"""An agent loop: the model picks an action with select(), calls a Python tool with
JSON arguments, reads the result, and finishes.

    python examples/agent_loop.py
"""
import json

import sglike as sgl

TOOLS = {
    "add": lambda a, b: a + b,
    "multiply": lambda a, b: a * b,
}
ARGS_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer", "minimum": -999, "maximum": 999},
                   "b": {"type": "integer", "minimum": -999, "maximum": 999}},
    "required": ["a", "b"], "additionalProperties": False,
}


@sgl.program
def agent(s, task, max_steps=3):
    s += sgl.system("You solve arithmetic with tools: add(a, b), multiply(a, b). Call a tool, then finish.")
    s += sgl.user(task)
    trace = []
    for step in range(max_steps):
        with s.assistant():
            s += "Action: " + sgl.select("action", choices=["add", "multiply", "finish"])
        action = s["action"]
        if action == "finish":
            break
        s += sgl.assistant(sgl.gen("args", json_schema=ARGS_SCHEMA, max_tokens=32))
        args = json.loads(s["args"])
        result = TOOLS[action](args["a"], args["b"])
        trace.append((action, args, result))
        s += sgl.user(f"Observation: {action}({args['a']}, {args['b']}) = {result}")
    s += sgl.assistant("Final answer: " + sgl.gen("answer", max_tokens=16, stop="\n"))
    s["trace"] = trace


def main() -> None:
    backend = sgl.Runtime()
    try:
        state = agent.run(task="What is 6 times 7?", backend=backend, temperature=0)
        for action, args, result in state["trace"]:
            print(f"tool {action}({args}) -> {result}")
        print("answer:", state["answer"])
    finally:
        backend.shutdown()


if __name__ == "__main__":
    main()
