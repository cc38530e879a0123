# A Mix project that uses pycnode by path (test/packaging/run.sh sets
# PYCNODE_ERL_DIR to the repository's erl/).
defmodule MixClient.MixProject do
  use Mix.Project

  def project do
    [app: :mix_client, version: "0.1.0", elixir: "~> 1.14",
     deps: [{:pycnode, path: System.fetch_env!("PYCNODE_ERL_DIR")}]]
  end

  def application, do: [extra_applications: [:logger]]
end
