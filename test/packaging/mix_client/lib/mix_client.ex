defmodule MixClient do
  @moduledoc "Called by test/packaging/run.sh: the Pycnode module from Elixir."

  def main(node) do
    {:ok, _} = Application.ensure_all_started(:pycnode)

    checks = [
      {:check, Pycnode.check(node), :ok},
      {:ping, Pycnode.ping(node, timeout: 2000), :pong},
      {:call, Pycnode.call(node, "operator", :add, [1, 2]), {:ok, 3}},
      {:call_opts, Pycnode.call(node, :math, :factorial, [5], timeout: 2000), {:ok, 120}},
      {:stats, match?({:ok, %{workers: _}}, Pycnode.stats(node)), true},
      {:python_error, elem(Pycnode.call(node, :math, :sqrt, [-1]), 0), :error}
    ]

    for {name, got, _} <- checks, do: IO.puts("mix_client: #{name} -> #{inspect(got)}")
    System.halt(if Enum.all?(checks, fn {_, got, want} -> got == want end), do: 0, else: 1)
  end
end
