# The client as a Mix project: the Erlang modules of src/ and the Elixir
# module Pycnode of lib/, for Elixir projects that depend on it by path or
# git (docs/elixir.md). The application and its environment are those of
# src/pycnode.app.src.
defmodule Pycnode.MixProject do
  use Mix.Project

  def project do
    [
      app: :pycnode,
      version: "0.1.0",
      elixir: "~> 1.14",
      erlc_paths: ["src"],
      elixirc_paths: ["lib"],
      deps: []
    ]
  end

  def application do
    [
      mod: {:pycnode_app, []},
      registered: [:pycnode_sup],
      env: [node: :undefined, name: :pycnode, timeout: 5000]
    ]
  end
end
