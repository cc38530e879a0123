defmodule Pycnode do
  @moduledoc """
  Python on a pycnode node, from Elixir.

  A thin layer over the Erlang client (`:pycnode`, `:py_asgi`, `:py_wsgi`):
  options are keyword lists (or maps), names may be strings or atoms, and
  results are `{:ok, value}` or `{:error, reason}` exactly as the Erlang
  functions return them (docs/erlang-client.md lists the reasons).

      iex> Pycnode.call(:"pycnode@myhost", "math", "factorial", [20])
      {:ok, 2432902008176640000}

  Options: `:timeout` (milliseconds or `:infinity`, default the
  application's `timeout`, 5000) and `:name` (the name pycnode registered,
  default `:pycnode`).
  """

  @type name :: String.t() | atom()

  # Elixir strings are binaries and its nil is an atom: what an Elixir user
  # means by them is Python's str and None.
  @elixir_call_defaults %{strings: :str, nil: :none}
  @type opts :: keyword() | map()

  @doc "`:pong` if pycnode on `node` answers (no Python involved)."
  @spec ping(node(), opts()) :: :pong | {:error, term()}
  def ping(node, opts \\ []), do: :pycnode.ping(node, to_map(opts))

  @doc "pycnode's counters (docs/protocol.md lists them)."
  @spec stats(node(), opts()) :: {:ok, map()} | {:error, term()}
  def stats(node, opts \\ []), do: :pycnode.stats(node, to_map(opts))

  @doc """
  `module.function(*args, **kwargs)` in Python on `node`.

  From Elixir, strings arrive as Python `str` and `nil` is `None` (both
  ways) unless `strings: :bytes` or `nil: :atom` says otherwise; `kwargs:`
  takes a keyword list or a map.
  """
  @spec call(node(), name(), name(), list(), opts()) :: {:ok, term()} | {:error, term()}
  def call(node, module, function, args, opts \\ []),
    do: :pycnode.call(node, module, function, args, elixir_defaults(opts))

  @doc """
  `object.method(*args, **kwargs)` on the object a handle names (a handle
  comes from a call with `result: :handle`; see `:pycnode.call_method/4`).
  Same options and defaults as `call/5`.
  """
  @spec call_method(:pycnode.handle(), name(), list(), opts()) :: {:ok, term()} | {:error, term()}
  def call_method(handle, method, args, opts \\ []),
    do: :pycnode.call_method(handle, method, args, elixir_defaults(opts))

  @doc "`object.name` of the object a handle names (`:pycnode.getattr/3`)."
  @spec getattr(:pycnode.handle(), name(), opts()) :: {:ok, term()} | {:error, term()}
  def getattr(handle, name, opts \\ []),
    do: :pycnode.getattr(handle, name, elixir_defaults(opts))

  @doc """
  Drops a handle now instead of when the process that received it exits
  (`:pycnode.release/2`): `:ok`, or `{:error, {:bad_handle, detail}}` if it
  was not live.
  """
  @spec release(:pycnode.handle(), opts()) :: :ok | {:error, term()}
  def release(handle, opts \\ []), do: :pycnode.release(handle, to_map(opts))

  @doc "The value of a Python expression in a named namespace (`:pycnode.eval/4`; `namespace:` option)."
  @spec eval(node(), String.t(), map(), opts()) :: {:ok, term()} | {:error, term()}
  def eval(node, expression, bindings \\ %{}, opts \\ []),
    do: :pycnode.eval(node, expression, bindings, elixir_defaults(opts))

  @doc "Runs Python statements in a named namespace (`:pycnode.exec/4`)."
  @spec exec(node(), String.t(), map(), opts()) :: :ok | {:error, term()}
  def exec(node, statements, bindings \\ %{}, opts \\ []),
    do: :pycnode.exec(node, statements, bindings, elixir_defaults(opts))

  @doc "Reloads a Python module (`prefix: true`: and every module under it) on `node`."
  @spec reload(node(), name(), opts()) :: {:ok, [String.t()]} | {:error, term()}
  def reload(node, module, opts \\ []), do: :pycnode.reload(node, module, to_map(opts))

  @doc "`:ok`, or why pycnode on `node` does not answer (see `:pycnode.check/2`)."
  @spec check(node(), opts()) :: :ok | {:error, term()}
  def check(node, opts \\ []), do: :pycnode.check(node, to_map(opts))

  @doc "Runs an ASGI app for one HTTP request (`:py_asgi.run/5`); `:node` in `opts`."
  @spec asgi(name(), name(), map() | reference(), binary(), opts()) :: {:ok, tuple()} | {:error, term()}
  def asgi(module, callable, scope, body, opts \\ []),
    do: :py_asgi.run(module, callable, scope, body, to_map(opts))

  @doc "Runs a WSGI app for one HTTP request (`:py_wsgi.run/4`); `:node` in `opts`."
  @spec wsgi(name(), name(), map(), opts()) :: {:ok, tuple()} | {:error, term()}
  def wsgi(module, callable, environ, opts \\ []),
    do: :py_wsgi.run(module, callable, environ, to_map(opts))

  # Anything that is not a map or a keyword list goes through as it is: the
  # Erlang function answers {:error, {:badarg, :opts}}, as for any bad argument.
  defp to_map(opts) when is_map(opts), do: opts

  defp to_map(opts) when is_list(opts) do
    if Enum.all?(opts, &match?({key, _} when is_atom(key), &1)), do: Map.new(opts), else: opts
  end

  defp to_map(opts), do: opts

  defp elixir_defaults(opts) do
    case to_map(opts) do
      map when is_map(map) -> Map.merge(@elixir_call_defaults, map)
      other -> other
    end
  end
end
