defmodule MixClient do
  @moduledoc "Called by test/packaging/run.sh: the Pycnode module from Elixir."

  def main(node) do
    {:ok, _} = Application.ensure_all_started(:pycnode)

    # Handles: the objects stay in Python, owned by this process.
    {:ok, counter} = Pycnode.call(node, :collections, :Counter, ["abca"], result: :handle)
    {:ok, fraction} = Pycnode.call(node, :fractions, :Fraction, [3, 4], result: :handle)

    checks = [
      {:check, Pycnode.check(node), :ok},
      {:ping, Pycnode.ping(node, timeout: 2000), :pong},
      {:call, Pycnode.call(node, "operator", :add, [1, 2]), {:ok, 3}},
      {:call_opts, Pycnode.call(node, :math, :factorial, [5], timeout: 2000), {:ok, 120}},
      {:stats, match?({:ok, %{workers: _}}, Pycnode.stats(node)), true},
      {:python_error, elem(Pycnode.call(node, :math, :sqrt, [-1]), 0), :error},
      # Elixir strings arrive as str and nil is None, both ways.
      {:json, Pycnode.call(node, :json, :dumps, [%{"a" => [1, 2.5, true, nil]}]), {:ok, ~s({"a": [1, 2.5, true, null]})}},
      {:none, Pycnode.call(node, :json, :loads, ["null"]), {:ok, nil}},
      {:kwargs, Pycnode.call(node, :builtins, :sorted, [[3, 1, 2]], kwargs: [reverse: true]), {:ok, [3, 2, 1]}},
      {:eval, Pycnode.eval(node, "x + len(s)", %{x: 1, s: "héllo"}), {:ok, 6}},
      {:str_len, Pycnode.call(node, :builtins, :len, ["é"]), {:ok, 1}},
      {:bytes_len, Pycnode.call(node, :builtins, :len, ["é"], strings: :bytes), {:ok, 2}},
      {:method, Pycnode.call_method(counter, :most_common, [1]), {:ok, [{"a", 2}]}},
      {:handle_arg, Pycnode.call(node, :builtins, :len, [counter]), {:ok, 3}},
      {:getattr, Pycnode.getattr(fraction, :numerator), {:ok, 3}},
      {:release, Pycnode.release(counter), :ok},
      {:released, elem(Pycnode.call_method(counter, :most_common, []), 1) |> elem(0), :bad_handle},
      # Bad arguments are answered, named, as from Erlang: nothing is sent.
      {:bad_args, Pycnode.call(node, :math, :sqrt, 4), {:error, {:badarg, :args}}},
      {:bad_node, Pycnode.ping("not an atom"), {:error, {:badarg, :node}}},
      {:bad_opts, Pycnode.call(node, :math, :sqrt, [4], [:oops]), {:error, {:badarg, :opts}}},
      {:bad_timeout, Pycnode.eval(node, "1", %{}, timeout: -1), {:error, {:badarg, :timeout}}}
    ]

    for {name, got, _} <- checks, do: IO.puts("mix_client: #{name} -> #{inspect(got)}")
    System.halt(if Enum.all?(checks, fn {_, got, want} -> got == want end), do: 0, else: 1)
  end
end
