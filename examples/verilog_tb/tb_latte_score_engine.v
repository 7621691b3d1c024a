// Plain Verilog-2005 testbench of latte_score_engine: no Python while it runs. It reads its
// stimulus from hex files, drives the engine as the README's "Integrating the engine" section
// says, stalls the result streams and writes every result beat to text files, which
// run_example.py compares with `latte-rtl golden`.
//
// Files (in `LATTE_HEX_DIR):
//   meta.hex   32-bit words: N (keys), R (rows), then HEADS thresholds (two's complement)
//   rows.hex   32-bit words: per row its head, then its key limit
//   keys.hex   N*DIM elements, key-major (element e of key j on line j*DIM + e), BITS-bit two's complement
//   query.hex  R*DIM elements, row-major
// Out: scores.out ("row index score estimate" per scores beat), records.out ("row kept_count
// max_estimate head cycles" per rows record), both decimal.
//
// Everything about the design comes from its include file (`LATTE_PARAMS): widths, field offsets.
// Macros (all optional) let one compilation hold several designs: LATTE_TB (this module's name),
// LATTE_DUT (the engine's module, e.g. cfg_a_latte_score_engine), LATTE_PARAMS, LATTE_HEX_DIR,
// LATTE_NO_FINISH (set `done` instead of calling $finish), LATTE_NO_MONITOR (a --no-monitor design).
`timescale 1ns/1ps
`ifndef LATTE_TB
`define LATTE_TB tb_latte_score_engine
`endif
`ifndef LATTE_DUT
`define LATTE_DUT latte_score_engine
`endif
`ifndef LATTE_PARAMS
`define LATTE_PARAMS "latte_score_engine.vh"
`endif
`ifndef LATTE_HEX_DIR
`define LATTE_HEX_DIR "./"
`endif

module `LATTE_TB;
`include `LATTE_PARAMS
    localparam integer MAX_ROWS = 1024;
    localparam integer TIMEOUT_CYCLES = 2000000;

    reg clk = 1'b0;
    reg rst = 1'b1;
    always #5 clk = ~clk;  // 100 MHz

    // ---- engine ports -------------------------------------------------------------------
    reg  [KEYS_PAYLOAD_WIDTH-1:0]       keys_payload = 0;
    reg                                 keys_valid = 1'b0;
    wire                                keys_ready;
    reg  [QUERY_PAYLOAD_WIDTH-1:0]      query_payload = 0;
    reg                                 query_valid = 1'b0;
    wire                                query_ready;
    reg  [THRESHOLDS_PAYLOAD_WIDTH-1:0] thresholds_payload = 0;
    reg                                 thresholds_valid = 1'b0;
    wire                                thresholds_ready;
    wire [SCORES_PAYLOAD_WIDTH-1:0]     scores_payload;
    wire                                scores_valid;
    reg                                 scores_ready = 1'b0;
    wire [ROWS_PAYLOAD_WIDTH-1:0]       rows_payload;
    wire                                rows_valid;
    reg                                 rows_ready = 1'b0;
    wire [N_KEYS_WIDTH-1:0]             n_keys;
    wire                                busy;

    `LATTE_DUT dut (
        .clk(clk), .rst(rst),
        .keys__payload(keys_payload), .keys__valid(keys_valid), .keys__ready(keys_ready),
        .query__payload(query_payload), .query__valid(query_valid), .query__ready(query_ready),
        .scores__payload(scores_payload), .scores__valid(scores_valid), .scores__ready(scores_ready),
        .rows__payload(rows_payload), .rows__valid(rows_valid), .rows__ready(rows_ready),
        .n_keys(n_keys), .busy(busy),
        .thresholds__payload(thresholds_payload), .thresholds__valid(thresholds_valid),
        .thresholds__ready(thresholds_ready)
`ifndef LATTE_NO_MONITOR  // define it for a design generated with --no-monitor
        // observation only (every estimate, SRAM read counters): left open here
        , .monitor__reads(), .monitor__estimate__valid(), .monitor__estimate__payload()
`endif
    );

    // ---- stimulus -----------------------------------------------------------------------
    reg [31:0]     meta [0:HEADS + 1];
    reg [31:0]     row_mem [0:2 * MAX_ROWS - 1];
    localparam integer Q_BASE = MAX_KEYS * DIM;  // vec_mem: keys from 0, query rows from Q_BASE
    reg [BITS-1:0] vec_mem [0:(MAX_KEYS + MAX_ROWS) * DIM - 1];
    integer n, rows, j, b, r, cycle, rows_seen, scores_file, rows_file;
    reg done = 1'b0;

    // Beat b of the vector starting at element `base` of vec_mem: lane i = element b*LANES + i
    // (lanes past DIM: 0, ignored by the engine).
    function [LANES*BITS-1:0] beat_lanes(input integer base, input integer beat);
        integer lane;
        begin
            beat_lanes = 0;
            for (lane = 0; lane < LANES; lane = lane + 1)
                if (beat * LANES + lane < DIM)
                    beat_lanes[lane * BITS +: BITS] = vec_mem[base + beat * LANES + lane];
        end
    endfunction

    // A source drives valid and payload after a falling edge; the beat transfers on the next
    // rising edge where ready is high (sampled there, before the engine's registers change).
    localparam integer KEYS = 0, QUERY = 1, THRESHOLDS = 2;
    task transfer(input integer port);
        begin
            @(posedge clk);
            while (!(port == KEYS ? keys_ready : port == QUERY ? query_ready : thresholds_ready)) @(posedge clk);
        end
    endtask

    task send_threshold(input integer head, input [31:0] value);
        begin
            @(negedge clk);
            thresholds_payload = 0;
            thresholds_payload[THRESHOLDS_HEAD_OFFSET +: THRESHOLDS_HEAD_WIDTH] = head;
            thresholds_payload[THRESHOLDS_VALUE_OFFSET +: THRESHOLDS_VALUE_WIDTH] = value;
            thresholds_valid = 1'b1;
            transfer(THRESHOLDS);
            @(negedge clk) thresholds_valid = 1'b0;
        end
    endtask

    // Keys: BEATS beats per key, lane i of beat b = element b*LANES + i; `last` on the final beat
    // of the final key only (it ends the load and sets N). A one-cycle gap after every third
    // beat shows that valid may drop between beats.
    task load_keys;
        begin
            for (j = 0; j < n; j = j + 1)
                for (b = 0; b < BEATS; b = b + 1) begin
                    @(negedge clk);
                    keys_valid = 1'b0;
                    if ((j * BEATS + b) % 3 == 2) @(negedge clk);
                    keys_payload = 0;
                    keys_payload[KEYS_DATA_OFFSET +: LANES * BITS] = beat_lanes(j * DIM, b);
                    keys_payload[KEYS_LAST_OFFSET] = (j == n - 1) && (b == BEATS - 1);
                    keys_valid = 1'b1;
                    transfer(KEYS);
                end
            @(negedge clk) keys_valid = 1'b0;
        end
    endtask

    // Query: BEATS beats, same lane order; head and key_limit are read on the first beat.
    task send_row(input integer row);
        begin
            for (b = 0; b < BEATS; b = b + 1) begin
                @(negedge clk);
                query_payload = 0;
                query_payload[QUERY_DATA_OFFSET +: LANES * BITS] = beat_lanes(Q_BASE + row * DIM, b);
                query_payload[QUERY_HEAD_OFFSET +: QUERY_HEAD_WIDTH] = row_mem[2 * row];
                query_payload[QUERY_KEY_LIMIT_OFFSET +: QUERY_KEY_LIMIT_WIDTH] = row_mem[2 * row + 1];
                query_valid = 1'b1;
                transfer(QUERY);
            end
            @(negedge clk) query_valid = 1'b0;
        end
    endtask

    // ---- sinks: ready follows a pseudo-random pattern (a stall on about 1 cycle in 3) ----------
    reg [15:0] lfsr = 16'hACE1;
    always @(negedge clk) begin
        lfsr = {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
        scores_ready = lfsr[0] | lfsr[1];
        rows_ready = lfsr[2] | lfsr[3];
    end

    reg signed [SCORES_SCORE_WIDTH-1:0]    score;
    reg signed [SCORES_ESTIMATE_WIDTH-1:0] estimate;
    reg signed [ROWS_SUMMARY_MAX_ESTIMATE_WIDTH-1:0] max_estimate;
    always @(posedge clk) begin
        if (!rst) cycle = cycle + 1;
        if (!rst && scores_valid && scores_ready) begin
            score = scores_payload[SCORES_SCORE_OFFSET +: SCORES_SCORE_WIDTH];
            estimate = scores_payload[SCORES_ESTIMATE_OFFSET +: SCORES_ESTIMATE_WIDTH];
            $fwrite(scores_file, "%0d %0d %0d %0d\n", rows_seen,
                    scores_payload[SCORES_INDEX_OFFSET +: SCORES_INDEX_WIDTH], score, estimate);
        end
        if (!rst && rows_valid && rows_ready) begin
            max_estimate = rows_payload[ROWS_SUMMARY_MAX_ESTIMATE_OFFSET +: ROWS_SUMMARY_MAX_ESTIMATE_WIDTH];
            $fwrite(rows_file, "%0d %0d %0d %0d %0d\n", rows_seen,
                    rows_payload[ROWS_SUMMARY_KEPT_COUNT_OFFSET +: ROWS_SUMMARY_KEPT_COUNT_WIDTH], max_estimate,
                    rows_payload[ROWS_HEAD_OFFSET +: ROWS_HEAD_WIDTH], rows_payload[ROWS_CYCLES_OFFSET +: ROWS_CYCLES_WIDTH]);
            rows_seen = rows_seen + 1;
        end
    end

    initial begin
        cycle = 0;
        rows_seen = 0;
        $readmemh({`LATTE_HEX_DIR, "meta.hex"}, meta);
        n = meta[0];
        rows = meta[1];
        if (n < 1 || n > MAX_KEYS || rows < 1 || rows > MAX_ROWS) begin
            $display("%m: ERROR: meta.hex gives N = %0d, R = %0d: expected 1..%0d keys, 1..%0d rows",
                     n, rows, MAX_KEYS, MAX_ROWS);
            $finish;
        end
        $readmemh({`LATTE_HEX_DIR, "rows.hex"}, row_mem, 0, 2 * rows - 1);
        $readmemh({`LATTE_HEX_DIR, "keys.hex"}, vec_mem, 0, n * DIM - 1);
        $readmemh({`LATTE_HEX_DIR, "query.hex"}, vec_mem, Q_BASE, Q_BASE + rows * DIM - 1);
        scores_file = $fopen({`LATTE_HEX_DIR, "scores.out"}, "w");
        rows_file = $fopen({`LATTE_HEX_DIR, "records.out"}, "w");
        // Reset: synchronous, active high, at least one rising edge.
        repeat (3) @(posedge clk);
        @(negedge clk) rst = 1'b0;
        for (r = 0; r < HEADS; r = r + 1) send_threshold(r, meta[2 + r]);
        load_keys;
        repeat (2) @(posedge clk);
        wait (!busy);
        $display("%m: n_keys = %0d after loading %0d keys", n_keys, n);
        for (r = 0; r < rows; r = r + 1) send_row(r);
        wait (rows_seen == rows);
        $fclose(scores_file);
        $fclose(rows_file);
        $display("%m: %0d rows done in %0d cycles", rows, cycle);
        done = 1'b1;
`ifndef LATTE_NO_FINISH
        $finish;
`endif
    end

    always @(posedge clk) if (cycle == TIMEOUT_CYCLES) begin
        $display("%m: TIMEOUT after %0d cycles (%0d of %0d rows)", cycle, rows_seen, rows);
        $finish;
    end
endmodule
