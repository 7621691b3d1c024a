// Native testbench of a generated top: runs the op script that sim/native.py planned from the
// top's scoreboard (send beats, wait for an output beat, wait cycles, wait for a port to go
// low, read a port), moving beats between files and the Verilator model with seeded random
// valid gaps and ready stalls, the same clocking as sim/bfm.py's ClockedTB: every rising edge,
// first sample (outputs as they were at the edge), then drive (inputs for the next cycle).
//
//   harness DIR SEED VALID_PROB READY_PROB STALL_LIMIT [LATENCY BYTES_PER_CYCLE [QUEUE]]
//                                            run DIR/ops.bin, DIR/in_<stream>.bin (DIR/mem.bin: the bytes of
//                                            the MEMORY ops of a top with an AXI4 read port); write
//                                            DIR/out_<stream>.bin, acc_<stream>.bin, probes.bin, done.bin;
//                                            give up after STALL_LIMIT cycles without any progress
//   a gate-level model (synth/gatelevel.py: ports latte_nets, latte_levels) counts each net's toggles
//   and each level probe's high cycles, apart in the cycles when a stream of $LATTE_TOGGLES_LOAD
//   (comma-separated) has beats to deliver, and writes them to $LATTE_TOGGLES at the end
//   harness --idle CYCLES                    only clock the model (Verilator's own speed)
//
// File formats (little-endian): ops.bin int64 triples (code, a, b); in_*.bin beats of `words`
// uint32 payload words; out_*.bin per captured beat uint32 [cycle lo, hi, valid-since lo, hi,
// payload words]; acc_*.bin uint64 cycle each input beat was taken; probes.bin the uint32 words
// of each PROBE; done.bin uint64 cycle each op completed. stdout: one JSON line (cycles, seconds).
// The model comes from latte_model.h and the port tables from latte_ports.h, both generated
// from the manifest by sim/native_build.py.

#include <algorithm>
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

enum Op : int64_t { SEND = 0, RECV = 1, WAIT = 2, WAIT_LOW = 3, PROBE = 4, MEMORY = 5 };

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

#ifdef LATTE_AXI
// Reactive AXI4 read memory (tops with an `axi` port): AR accepted while fewer than `queue` bursts
// (default 16) are queued (arready paused with READY_PROB, seeded); each burst's data starts `latency` cycles after
// its AR; R beats in order, at most `bytes_per_cycle` bytes per cycle on average (a token bucket),
// rvalid paused with VALID_PROB (seeded). INCR bursts of arlen + 1 beats of 2^arsize bytes; RRESP OKAY.
struct AxiMemory {
    struct Burst { uint64_t addr, beats, sent, size, ready_at; };
    std::vector<uint8_t> bytes;
    std::deque<Burst> bursts;
    uint64_t latency = 0, queue = 16;
    double bytes_per_cycle = AXI_DATA_BYTES, credit = AXI_DATA_BYTES;
    bool ar_ready = false, r_valid = false;
    Rng ar_rng, r_rng;
    std::vector<uint32_t> word = std::vector<uint32_t>(AXI_DATA_WORDS);
    void write(uint64_t addr, const uint8_t* data, size_t n) {
        if (bytes.size() < addr + n) bytes.resize(addr + n);
        std::memcpy(bytes.data() + addr, data, n);
    }
    bool sample(Model* m, uint64_t cycle) {  // handshakes at this edge; true if one happened
        bool moved = false;
        if (ar_ready && axi_arvalid(m)) {
            bursts.push_back({axi_araddr(m), axi_arlen(m) + 1ull, 0, 1ull << axi_arsize(m), cycle + latency});
            moved = true;
        }
        if (r_valid && axi_rready(m)) {
            Burst& b = bursts.front();
            credit -= AXI_DATA_BYTES;
            if (++b.sent == b.beats) bursts.pop_front();
            moved = true;
        }
        return moved;
    }
    void drive(Model* m, uint64_t cycle, double valid_prob, double ready_prob) {
        credit = std::min(credit + bytes_per_cycle, double(2 * AXI_DATA_BYTES));
        ar_ready = bursts.size() < queue && !ar_rng.pause(ready_prob);
        const Burst* b = bursts.empty() ? nullptr : &bursts.front();
        r_valid = b && cycle >= b->ready_at && credit >= AXI_DATA_BYTES && !r_rng.pause(valid_prob);
        std::memset(word.data(), 0, 4 * word.size());
        if (r_valid) {
            uint64_t at = b->addr + b->sent * b->size;  // INCR; the master's addresses are bus aligned
            for (size_t i = 0; i < AXI_DATA_BYTES; ++i)
                if (at + i < bytes.size()) word[i / 4] |= uint32_t(bytes[at + i]) << (8 * (i % 4));
        }
        axi_drive(m, ar_ready, r_valid, word.data(), r_valid && b->sent + 1 == b->beats);
    }
};
#endif

#ifdef LATTE_NET_BITS
// Toggle counting of a gate-level model: every net's value after each whole cycle (a change between
// two is one toggle: zero-delay, no glitches) and every level probe's value just after the rising
// edge (a gated clock high: its flip-flops were clocked; an SRAM enable high: an access), in two
// phases: cycles in which a load stream (`loads`) has beats to deliver, and the others.
struct NetCounter {
    std::vector<const Source*> loads;
    int phase = 1;  // 0: loading, 1: the rest
    uint64_t cycles[2] = {0, 0};
    std::vector<uint32_t> prev = std::vector<uint32_t>(NET_WORDS);
    std::vector<uint64_t> toggles[2], highs[2];
    NetCounter() {
        for (int p = 0; p < 2; ++p) toggles[p].resize(LATTE_NET_BITS), highs[p].resize(LATTE_LEVEL_BITS);
    }
    void start(Model* m) { for (size_t i = 0; i < NET_WORDS; ++i) prev[i] = net_word(m, i); }
    void set_phase() {  // before the cycle's rising edge
        phase = 1;
        for (const Source* s : loads) if (s->queued) phase = 0;
    }
    void nets(Model* m) {
        ++cycles[phase];
        for (size_t i = 0; i < NET_WORDS; ++i) {
            uint32_t now = net_word(m, i), x = now ^ prev[i];
            prev[i] = now;
            for (; x; x &= x - 1) ++toggles[phase][32 * i + __builtin_ctz(x)];
        }
    }
    void clocks(Model* m) {
        for (size_t i = 0; i < LATTE_LEVEL_BITS; ++i) highs[phase][i] += (level_word(m, i / 32) >> (i % 32)) & 1;
    }
    // uint64: the cycles of each phase, each net's toggles in each phase, each level probe's high cycles in each
    void write(const char* path) {
        Writer out(path);
        out.u64(cycles[0]), out.u64(cycles[1]);
        for (auto* v : {&toggles[0], &toggles[1], &highs[0], &highs[1]})
            for (uint64_t t : *v) out.u64(t);
    }
};
#endif

struct Run {
    Model* m;
    std::vector<Source> sources;
    std::vector<Sink> sinks;
    std::vector<int64_t> ops;
    size_t op = 0;
    uint64_t target = 0, wait_until = 0;  // state of the current op
    bool started = false;
    Writer probes, done;
    FILE* memory_file = nullptr;  // mem.bin: the bytes of every MEMORY op, in order
#ifdef LATTE_AXI
    AxiMemory axi;
#endif
    Run(Model* model, const std::string& dir)
        : m(model), ops(), probes(dir + "/probes.bin"), done(dir + "/done.bin") {
        std::vector<uint32_t> raw = read_words(dir + "/ops.bin");
        ops.assign(reinterpret_cast<int64_t*>(raw.data()), reinterpret_cast<int64_t*>(raw.data() + raw.size()));
        memory_file = std::fopen((dir + "/mem.bin").c_str(), "rb");
    }
    ~Run() { if (memory_file) std::fclose(memory_file); }
    void load_memory(uint64_t addr, uint64_t n) {  // MEMORY op: n bytes of mem.bin at addr
        std::vector<uint8_t> buf(n);
        if (!memory_file || std::fread(buf.data(), 1, n, memory_file) != n) {
            std::fprintf(stderr, "harness: mem.bin ends before a MEMORY op's %llu bytes\n", (unsigned long long)n);
            std::exit(2);
        }
#ifdef LATTE_AXI
        axi.write(addr, buf.data(), n);
#else
        (void)addr;
        std::fprintf(stderr, "harness: a MEMORY op but the top has no axi port\n");
        std::exit(2);
#endif
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
                case MEMORY: load_memory(uint64_t(a), uint64_t(b)); complete = true; break;
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
    if (argc != 6 && argc != 8 && argc != 9) {
        std::fprintf(stderr, "usage: %s DIR SEED VALID_PROB READY_PROB STALL_LIMIT [LATENCY BYTES_PER_CYCLE [QUEUE]] | "
                     "--idle CYCLES\n", argv[0]);
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
#ifdef LATTE_AXI
    run.axi.ar_rng = Rng{seed * 1000003 + 101}, run.axi.r_rng = Rng{seed * 1000003 + 102};
    if (argc >= 8) run.axi.latency = std::strtoull(argv[6], nullptr, 10), run.axi.bytes_per_cycle = std::atof(argv[7]);
    if (argc == 9) run.axi.queue = std::strtoull(argv[8], nullptr, 10);
    axi_drive(m, false, false, run.axi.word.data(), false);  // the memory's outputs defined from before reset
#endif
    uint64_t cycle = 0, quiet = 0;
#ifdef LATTE_NET_BITS
    NetCounter toggles;
    std::string loads = std::string(",") + (std::getenv("LATTE_TOGGLES_LOAD") ? std::getenv("LATTE_TOGGLES_LOAD") : "") + ",";
    for (const Source& s : run.sources)
        if (loads.find("," + std::string(s.port.name) + ",") != std::string::npos) toggles.loads.push_back(&s);
#endif
    reset(m, cycle);
#ifdef LATTE_NET_BITS
    toggles.start(m);
#endif
    auto t0 = std::chrono::steady_clock::now();
    bool progressed = false;
    bool running = run.step_ops(cycle, progressed);
    while (running) {
        ++cycle;
        progressed = false;
#ifdef LATTE_NET_BITS
        toggles.set_phase();
#endif
        for (Source& s : run.sources) progressed |= s.sample(cycle);
        for (Sink& s : run.sinks) progressed |= s.sample(m, cycle);
#ifdef LATTE_AXI
        progressed |= run.axi.sample(m, cycle);
#endif
        edge(m, 1);
#ifdef LATTE_NET_BITS
        toggles.clocks(m);
#endif
        for (Source& s : run.sources) s.drive(m, valid_prob);
        for (Sink& s : run.sinks) s.drive(ready_prob);
#ifdef LATTE_AXI
        run.axi.drive(m, cycle, valid_prob, ready_prob);
#endif
        edge(m, 0);
#ifdef LATTE_NET_BITS
        toggles.nets(m);
#endif
        running = run.step_ops(cycle, progressed);
        quiet = progressed ? 0 : quiet + 1;
        if (quiet > stall_limit) {
            std::fprintf(stderr, "harness: no beat moved for %llu cycles (cycle %llu) while %s\n",
                         (unsigned long long)stall_limit, (unsigned long long)cycle, run.waiting_for().c_str());
            return 3;
        }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#ifdef LATTE_NET_BITS
    if (const char* file = std::getenv("LATTE_TOGGLES")) toggles.write(file);
#endif
    std::printf("{\"cycles\": %llu, \"seconds\": %.6f}\n", (unsigned long long)cycle, s);
    return 0;
}
