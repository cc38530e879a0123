// Start-up and shutdown of the embedded interpreter.
//
// The main thread initialises CPython, arranges sys.path, imports pyrunner
// and then detaches for good: from then on only workers attach, each with its
// own thread state (worker_context.cpp).
#include "python/runtime.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"
#include "python/py_ref.hpp"
#include "python/pycnode_module.hpp"

#include <Python.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace pycnode::python {
namespace {

std::string own_executable() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("pycnode") : exe.string();
}

// Where the pyrunner package lives. Meson passes the source tree; a binary
// built otherwise assumes it sits one directory below the root (build/pycnode).
std::string source_root() {
#ifdef PYCNODE_SOURCE_ROOT
    return PYCNODE_SOURCE_ROOT;
#else
    return std::filesystem::path(own_executable()).parent_path().parent_path().string();
#endif
}

[[noreturn]] void throw_python_error(std::string_view what) {
    throw std::runtime_error(fmt::format("{}: {}", what, take_exception_text()));
}

void register_builtin_module() {
    // The inittab may be extended only before the first initialisation.
    static const bool registered = PyImport_AppendInittab("_pycnode", &init_pycnode_module) == 0;
    if (!registered) throw std::runtime_error("cannot register the _pycnode built-in module");
}

void initialize_interpreter() {
    PyConfig config;
    // The "Python" configuration honours PYTHONPATH, PYTHONHOME, site and the
    // rest of the environment, as a `python3` command would.
    PyConfig_InitPythonConfig(&config);
    // Signals belong to the node's event loop, not to Python's handlers.
    config.install_signal_handlers = 0;
    // A crash in native code prints every thread's Python traceback
    // (faulthandler.enable(all_threads=True)), then reaches pycnode's own
    // report: app/fatal_signals.cpp says how the two handlers chain.
    config.faulthandler = 1;
    // Otherwise the program name is "python3", looked up on PATH: a python3
    // of another installation found first (pyenv) would have its standard
    // library loaded into our libpython.
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, own_executable().c_str());
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        throw std::runtime_error(fmt::format("cannot start Python: {}{}{}", status.func ? status.func : "",
                                             status.func ? ": " : "", status.err_msg ? status.err_msg : "exit"));
}

PyRef fs_path(const std::string& path) { return PyRef::steal(PyUnicode_DecodeFSDefault(path.c_str())); }

std::string version_string() {
    // Py_Version is sys.hexversion of the library actually loaded.
    return fmt::format("{}.{}.{}", (Py_Version >> 24) & 0xff, (Py_Version >> 16) & 0xff, (Py_Version >> 8) & 0xff);
}

bool gil_forced_by_environment() {
    const char* setting = std::getenv("PYTHON_GIL");
    return setting && std::string_view(setting) == "1";
}

std::string first_line(std::string_view text) { return std::string(text.substr(0, text.find('\n'))); }

InterpreterInfo read_info() {
    InterpreterInfo info;
    info.version = version_string();
    info.implementation = first_line(Py_GetVersion());
#ifdef Py_GIL_DISABLED
    info.free_threaded = true;
#endif
    info.gil_enabled = gil_enabled_now();
    return info;
}

// The directory a venv made by this Python keeps its packages in:
// lib/pythonX.Y/site-packages, lib/pythonX.Yt/... on a free-threaded build.
std::string venv_lib_name() {
#ifdef Py_GIL_DISABLED
    constexpr const char* abi = "t";
#else
    constexpr const char* abi = "";
#endif
    return fmt::format("python{}.{}{}", (Py_Version >> 24) & 0xff, (Py_Version >> 16) & 0xff, abi);
}

// The lib/python* directories a venv has: what it was made for.
std::string venv_versions(const std::filesystem::path& venv) {
    std::string found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(venv / "lib", ec)) {
        auto name = entry.path().filename().string();
        if (name.rfind("python", 0) == 0) found += (found.empty() ? "" : ", ") + name;
    }
    return found.empty() ? "no lib/python*" : "it has lib/" + found;
}

// Checks that `dir` is a virtualenv made for this Python and returns its
// site-packages (absolute), or throws saying what is missing.
std::string venv_site_packages(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path venv = fs::absolute(dir, ec).lexically_normal();
    if (ec || !fs::is_directory(venv, ec)) throw std::runtime_error(fmt::format("{} is not a directory", dir));
    if (!fs::is_regular_file(venv / "pyvenv.cfg", ec))
        throw std::runtime_error(fmt::format("{} is not a virtualenv: it has no pyvenv.cfg", venv.string()));
    if (venv.filename().empty()) venv = venv.parent_path();  // "dir/" normalises to a trailing separator
    fs::path site = venv / "lib" / venv_lib_name() / "site-packages";
    if (!fs::is_directory(site, ec))
        throw std::runtime_error(fmt::format("{} is not a virtualenv for Python {}: no {} ({})", venv.string(),
                                             version_string(), site.string(), venv_versions(venv)));
    return site.string();
}

// site.addsitedir appends the directory and what its .pth files name; these
// entries then move ahead of the system's site-packages (after the standard
// library), where an activated venv's python would have them.
constexpr const char* activate_venv_source = R"(
def activate(site_packages):
    import site, sys
    before = set(sys.path)
    site.addsitedir(site_packages)
    added = [p for p in sys.path if p not in before]
    for p in added:
        sys.path.remove(p)
    system = set(site.getsitepackages())
    system.add(site.getusersitepackages())
    at = next((i for i, p in enumerate(sys.path) if p in system), len(sys.path))
    sys.path[at:at] = added
)";

}  // namespace

bool gil_enabled_now() {
    PyRef sys = PyRef::steal(PyImport_ImportModule("sys"));
    PyRef probe = sys ? PyRef::steal(PyObject_GetAttrString(sys.get(), "_is_gil_enabled")) : PyRef();
    if (!probe) {
        PyErr_Clear();  // before 3.13 there is no probe, and always a GIL
        return true;
    }
    PyRef answer = PyRef::steal(PyObject_CallNoArgs(probe.get()));
    int enabled = answer ? PyObject_IsTrue(answer.get()) : -1;
    if (enabled < 0) PyErr_Clear();
    return enabled != 0;
}

Runtime::Runtime(const Config& config) : config_(config) {
#ifndef Py_GIL_DISABLED
    // Meaningless here, and accepting it would let a user believe the
    // command line was checked against a free-threaded build.
    if (config_.allow_gil)
        throw std::runtime_error("--allow-gil applies to a free-threaded CPython only; this pycnode embeds "
                                 "CPython " PY_VERSION " with the GIL");
#endif
    if (!config_.venv.empty()) {
        try {
            venv_site_packages_ = venv_site_packages(config_.venv);
        } catch (const std::runtime_error& e) {
            if (config_.venv_required) throw std::runtime_error(fmt::format("--venv {}: {}", config_.venv, e.what()));
            log::warning("VIRTUAL_ENV ignored: {}", e.what());
        }
    }
    register_builtin_module();
    initialize_interpreter();
    try {
        require_no_gil(gil_forced_by_environment() ? "PYTHON_GIL=1 in the environment"
                                                   : "a module imported at start-up (site, .pth files)");
        extend_sys_path();
        import_pyrunner();
        import_preloaded();
        info_ = read_info();
    } catch (...) {
        Py_FinalizeEx();
        throw;
    }
    interpreter_ = PyInterpreterState_Get();
    main_state_ = PyEval_SaveThread();
}

Runtime::~Runtime() {
    PyEval_RestoreThread(main_state_);
    if (Py_FinalizeEx() < 0) log::warning("Python finalization reported an error (buffered data may be lost)");
}

// In the end: --pythonpath directories, in the order given; PYTHONPATH; the
// standard library; the venv's site-packages; the system's; --append-pythonpath
// directories; pyrunner's root last, so nothing of ours can shadow a user's module.
void Runtime::extend_sys_path() {
    // The venv first: it finds the system's site-packages before --pythonpath
    // (which may name one of them) is inserted.
    if (!venv_site_packages_.empty()) activate_venv(venv_site_packages_);
    PyObject* path = PySys_GetObject("path");  // borrowed: sys keeps it alive
    if (!path || !PyList_Check(path)) throw std::runtime_error("sys.path is missing or not a list");
    Py_ssize_t index = 0;
    for (const auto& dir : config_.pythonpath) {
        PyRef entry = fs_path(dir);
        if (!entry || PyList_Insert(path, index++, entry.get()) < 0) throw_python_error("cannot extend sys.path");
    }
    for (const auto& dir : config_.append_pythonpath) {
        PyRef entry = fs_path(dir);
        if (!entry || PyList_Append(path, entry.get()) < 0) throw_python_error("cannot extend sys.path");
    }
    PyRef root = fs_path(source_root());
    if (!root || PyList_Append(path, root.get()) < 0) throw_python_error("cannot extend sys.path");
}

void Runtime::activate_venv(const std::string& site_packages) {
    PyRef globals = PyRef::steal(PyDict_New());
    if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) < 0)
        throw_python_error("cannot use the virtualenv");
    PyRef defined = PyRef::steal(PyRun_String(activate_venv_source, Py_file_input, globals.get(), globals.get()));
    PyObject* activate = defined ? PyDict_GetItemString(globals.get(), "activate") : nullptr;  // borrowed
    PyRef dir = fs_path(site_packages);
    PyRef done = activate && dir ? PyRef::steal(PyObject_CallOneArg(activate, dir.get())) : PyRef();
    if (!done) throw_python_error(fmt::format("cannot add {} to sys.path", site_packages));
    log::info("virtualenv {} (from {}): {} ahead of the system site-packages",
              std::filesystem::path(site_packages).parent_path().parent_path().parent_path().string(),
              config_.venv_required ? "--venv" : "VIRTUAL_ENV", site_packages);
}

void Runtime::import_pyrunner() {
    // pyrunner also installs the bridge from Python's logging to our log.
    PyRef pyrunner = PyRef::steal(PyImport_ImportModule("pyrunner"));
    if (!pyrunner) throw_python_error(fmt::format("cannot import pyrunner (from {})", source_root()));
    require_no_gil("importing pyrunner");
}

// Importing the application's modules before serving makes the first
// requests as fast as the rest, and on a free-threaded build tells at once,
// by name, a module that would turn the GIL back on.
void Runtime::import_preloaded() {
    for (const auto& name : config_.preload) {
        PyRef module = PyRef::steal(PyImport_ImportModule(name.c_str()));
        if (!module) throw_python_error(fmt::format("cannot preload '{}'", name));
        require_no_gil(fmt::format("importing '{}' (an extension without Py_mod_gil)", name));
    }
}

// On a free-threaded build, importing an extension that does not declare
// Py_mod_gil turns the GIL back on for the whole process: refuse to start
// that way unless told to accept it.
void Runtime::require_no_gil(std::string_view cause) const {
#ifdef Py_GIL_DISABLED
    if (config_.allow_gil || !gil_enabled_now()) return;
    throw std::runtime_error(fmt::format(
        "the GIL is enabled on this free-threaded Python, caused by {}; "
        "run with --allow-gil to accept it (or PYTHON_GIL=0 to force it off, at your own risk)",
        cause));
#else
    (void)cause;
#endif
}

#ifdef Py_GIL_DISABLED
namespace {

// CPython 3.13t turns the GIL on while any thread initialises an extension
// module, and off again once the module says it does not need it. A single
// look can therefore catch another worker's import in progress; only a GIL
// that stays on (here: for about 50 ms, across which the other imports end)
// was turned on for good.
bool gil_stays_enabled() {
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (!gil_enabled_now()) return false;
        PyThreadState* state = PyEval_SaveThread();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        PyEval_RestoreThread(state);
    }
    return true;
}

}  // namespace
#endif

bool Runtime::gil_reenabled_by(std::string_view module) {
#ifdef Py_GIL_DISABLED
    // A GIL already on at start-up was accepted then (--allow-gil): nothing new.
    if (info_.gil_enabled || gil_warning_logged_.load() || !gil_stays_enabled()) return false;
    if (!gil_warning_logged_.exchange(true))
        log::warning("the GIL is now enabled for the whole process, after importing '{}' (an extension "
                     "without Py_mod_gil): Python code no longer runs in parallel",
                     module);
    return true;
#else
    (void)module;
    return false;
#endif
}

}  // namespace pycnode::python
