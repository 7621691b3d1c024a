// Native testbench of a generated top: runs the op script that sim/native.py planned from the
// top's scoreboard (send beats, wait for an output beat, wait cycles, wait for a port to go
// low, read a port), moving beats between files and the Verilator model with seeded random
// valid gaps and ready stalls, the same clocking as sim/bfm.py's ClockedTB: every rising edge,
// first sample (outputs as they were at the edge), then drive (inputs for the next cycle).
//
//   harness DIR SEED VALID_PROB READY_PROB STALL_LIMIT
//                                            run DIR/ops.bin, DIR/in_<stream>.bin; write
//                                            DIR/out_<stream>.bin, acc_<stream>.bin, probes.bin, done.bin;
//                                            give up after STALL_LIMIT cycles without any progress
//   harness --idle CYCLES                    only clock the model (Verilator's own speed)
//
// File formats (little-endian): ops.bin int64 triples (code, a, b); in_*.bin beats of `words`
// uint32 payload words; out_*.bin per captured beat uint32 [cycle lo, hi, valid-since lo, hi,
// payload words]; acc_*.bin uint64 cycle each input beat was taken; probes.bin the uint32 words
// of each PROBE; done.bin uint64 cycle each op completed. stdout: one JSON line (cycles, seconds).
// The model comes from latte_model.h and the port tables from latte_ports.h, both generated
// from the manifest by sim/native_build.py.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "latte_model.h"

struct SourcePort {  // an input stream: payload setter (uint32 words), valid in, ready out
    const char* name;
    size_t words;
    void (*set)(Model*, const uint32_t*);
    CData* valid;
    CData* ready;
};
struct OutputPort {  // an output stream; ready is null for an observation port (valid only)
    const char* name;
    size_t words;
    void (*get)(Model*, uint32_t*);
    CData* valid;
    CData* ready;
};
struct ProbePort {  // a plain output port the script reads (counts, busy, counters)
    const char* name;
    size_t words;
    void (*get)(Model*, uint32_t*);
};

#include "latte_ports.h"

namespace {

enum Op : int64_t { SEND = 0, RECV = 1, WAIT = 2, WAIT_LOW = 3, PROBE = 4 };

struct Rng {  // splitmix64: a fixed, portable stream per model
    uint64_t s;
    double uniform() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return double((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
    }
    bool pause(double busy_fraction) { return busy_fraction < 1.0 && uniform() >= busy_fraction; }
};

std::vector<uint32_t> read_words(const std::string& path) {
    std::vector<uint32_t> out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    uint32_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 4, 4096, f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
    return out;
}

struct Writer {
    FILE* f;
    explicit Writer(const std::string& path) : f(std::fopen(path.c_str(), "wb")) {
        if (!f) { std::fprintf(stderr, "harness: cannot write %s\n", path.c_str()); std::exit(2); }
    }
    ~Writer() { std::fclose(f); }
    void u32(const uint32_t* w, size_t n) { std::fwrite(w, 4, n, f); }
    void u64(uint64_t v) { std::fwrite(&v, 8, 1, f); }
};

struct Source {
    const SourcePort& port;
    std::vector<uint32_t> beats;  // every beat of the run, in order
    size_t next = 0, queued = 0;  // next beat to queue; beats queued and not yet taken
    bool offering = false;
    Rng rng;
    std::unique_ptr<Writer> accepted;
    bool sample(uint64_t cycle) {
        if (!(offering && *port.ready)) return false;
        ++next, --queued;
        accepted->u64(cycle);
        return true;
    }
    void drive(Model* m, double prob) {
        offering = queued > 0 && !rng.pause(prob);
        *port.valid = offering;
        if (offering) port.set(m, &beats[next * port.words]);
    }
};

struct Sink {
    const OutputPort& port;
    uint64_t received = 0, wanted = 0, valid_since = 0;  // beats captured; beats RECV ops asked for
    bool was_valid = false, ready = false;
    Rng rng;
    std::vector<uint32_t> word;
    std::unique_ptr<Writer> out;
    bool sample(Model* m, uint64_t cycle) {
        if (!*port.valid) { was_valid = false; return false; }
        if (!was_valid) valid_since = cycle, was_valid = true;
        if (port.ready && !ready) return false;
        port.get(m, word.data());
        uint32_t head[4] = {uint32_t(cycle), uint32_t(cycle >> 32), uint32_t(valid_since), uint32_t(valid_since >> 32)};
        out->u32(head, 4);
        out->u32(word.data(), word.size());
        ++received, was_valid = false;
        return true;
    }
    void drive(double prob) {
        if (!port.ready) return;
        ready = !rng.pause(prob);
        *port.ready = ready;
    }
};

bool port_is_low(Model* m, const ProbePort& p) {
    std::vector<uint32_t> w(p.words);
    p.get(m, w.data());
    for (uint32_t x : w) if (x) return false;
    return true;
}

void edge(Model* m, bool level) {
    *clock_port(m) = level;
    m->eval();
}

void reset(Model* m, uint64_t& cycle) {  // as ClockedTB.reset: rst high for 3 edges, then one more
    *reset_port(m) = 1;
    edge(m, 0);
    for (int i = 0; i < 4; ++i) {
        if (i == 3) *reset_port(m) = 0;
        edge(m, 1), edge(m, 0), ++cycle;
    }
}

int idle(uint64_t cycles) {
    auto m = std::make_unique<Model>();
    uint64_t cycle = 0;
    reset(m.get(), cycle);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < cycles; ++i) edge(m.get(), 1), edge(m.get(), 0);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"cycles\": %llu, \"seconds\": %.6f}\n", (unsigned long long)cycles, s);
    return 0;
}

struct Run {
    Model* m;
    std::vector<Source> sources;
    std::vector<Sink> sinks;
    std::vector<int64_t> ops;
    size_t op = 0;
    uint64_t target = 0, wait_until = 0;  // state of the current op
    bool started = false;
    Writer probes, done;
    Run(Model* model, const std::string& dir)
        : m(model), ops(), probes(dir + "/probes.bin"), done(dir + "/done.bin") {
        std::vector<uint32_t> raw = read_words(dir + "/ops.bin");
        ops.assign(reinterpret_cast<int64_t*>(raw.data()), reinterpret_cast<int64_t*>(raw.data() + raw.size()));
    }
    std::string waiting_for() const {  // the current op, in words
        int64_t code = ops[op * 3], a = ops[op * 3 + 1];
        switch (code) {
            case SEND: return std::string("sending on ") + sources[a].port.name + " (" +
                              std::to_string(sources[a].queued) + " beats not taken)";
            case RECV: return std::string("waiting for a beat on ") + sinks[a].port.name;
            case WAIT_LOW: return std::string("waiting for ") + PROBES[a].name + " to go low";
            default: return "op " + std::to_string(op) + " of the script";
        }
    }
    // Advance through ops that complete at this cycle; false once the script is finished.
    bool step_ops(uint64_t cycle, bool& progressed) {
        while (op * 3 < ops.size()) {
            int64_t code = ops[op * 3], a = ops[op * 3 + 1], b = ops[op * 3 + 2];
            if (!started) {
                started = true;
                if (code == SEND) sources[a].queued += b;
                if (code == RECV) target = ++sinks[a].wanted;
                if (code == WAIT) wait_until = cycle + b;
            }
            bool complete = false;
            switch (code) {
                case SEND: complete = sources[a].queued == 0; break;
                case RECV: complete = sinks[a].received >= target; break;
                case WAIT: complete = cycle >= wait_until; break;
                case WAIT_LOW: complete = port_is_low(m, PROBES[a]); break;
                case PROBE: {
                    std::vector<uint32_t> w(PROBES[a].words);
                    PROBES[a].get(m, w.data());
                    probes.u32(w.data(), w.size());
                    complete = true;
                    break;
                }
                default: std::fprintf(stderr, "harness: unknown op %lld\n", (long long)code); std::exit(2);
            }
            if (!complete) return true;
            done.u64(cycle);
            ++op, started = false, progressed = true;
        }
        return false;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--idle") == 0) return idle(std::strtoull(argv[2], nullptr, 10));
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s DIR SEED VALID_PROB READY_PROB STALL_LIMIT | --idle CYCLES\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    uint64_t seed = std::strtoull(argv[2], nullptr, 10);
    double valid_prob = std::atof(argv[3]), ready_prob = std::atof(argv[4]);
    uint64_t stall_limit = std::strtoull(argv[5], nullptr, 10);
    auto model = std::make_unique<Model>();
    Model* m = model.get();
    bind_ports(m);
    Run run(m, dir);
    uint64_t salt = 0;
    for (const SourcePort& p : SOURCES) {  // filled by bind_ports
        Source s{p, read_words(dir + "/in_" + p.name + ".bin"), 0, 0, false, Rng{seed * 1000003 + ++salt}, nullptr};
        s.accepted = std::make_unique<Writer>(dir + "/acc_" + p.name + ".bin");
        run.sources.push_back(std::move(s));
    }
    for (const OutputPort& p : OUTPUTS) {
        Sink s{p, 0, 0, 0, false, false, Rng{seed * 1000003 + ++salt}, std::vector<uint32_t>(p.words), nullptr};
        s.out = std::make_unique<Writer>(dir + "/out_" + p.name + ".bin");
        run.sinks.push_back(std::move(s));
    }
    uint64_t cycle = 0, quiet = 0;
    reset(m, cycle);
    auto t0 = std::chrono::steady_clock::now();
    bool progressed = false;
    bool running = run.step_ops(cycle, progressed);
    while (running) {
        ++cycle;
        progressed = false;
        for (Source& s : run.sources) progressed |= s.sample(cycle);
        for (Sink& s : run.sinks) progressed |= s.sample(m, cycle);
        edge(m, 1);
        for (Source& s : run.sources) s.drive(m, valid_prob);
        for (Sink& s : run.sinks) s.drive(ready_prob);
        edge(m, 0);
        running = run.step_ops(cycle, progressed);
        quiet = progressed ? 0 : quiet + 1;
        if (quiet > stall_limit) {
            std::fprintf(stderr, "harness: no beat moved for %llu cycles (cycle %llu) while %s\n",
                         (unsigned long long)stall_limit, (unsigned long long)cycle, run.waiting_for().c_str());
            return 3;
        }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"cycles\": %llu, \"seconds\": %.6f}\n", (unsigned long long)cycle, s);
    return 0;
}
