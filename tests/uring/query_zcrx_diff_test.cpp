// IORING_REGISTER_QUERY (6.18) and IORING_REGISTER_ZCRX_IFQ (6.15) compared
// with the kernel: the query chain's answers byte for byte, and every answer
// of a zero-copy receive registration that a machine without a capable NIC
// gives (the checks before the hardware, then the interfaces it has).
#include <net/if.h>
#include <sys/mman.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ring_harness.hpp"
#include "uring/uapi.hpp"

namespace uring_test {
namespace {

namespace uapi = iostack::uring::uapi;

// ---- IORING_REGISTER_QUERY

// Headers and answer buffers in one page-aligned block, so that a chain can
// point into itself and a test can put a header at the end of the memory.
struct QueryMem {
  static constexpr std::size_t kDataBytes = 256;
  uapi::QueryHdr hdr[4];
  unsigned char data[4][kDataBytes];
};

struct QueryAnswer {
  int ret;
  std::vector<unsigned char> bytes;  // the headers and buffers afterwards
  bool operator==(const QueryAnswer& o) const = default;
};
std::ostream& operator<<(std::ostream& os, const QueryAnswer& a) {
  os << "{ret=" << a.ret << " bytes=";
  for (std::size_t i = 0; i < a.bytes.size(); ++i) {
    if (i == sizeof(uapi::QueryHdr) * 4) os << "|";
    char b[3];
    std::snprintf(b, sizeof(b), "%02x", a.bytes[i]);
    os << b;
  }
  return os << "}";
}

using QueryEdit = std::function<void(QueryMem*, void** arg, unsigned* nr)>;

// One query on `b`: a fresh block (four headers asking IO_URING_QUERY_OPCODES
// with 48-byte buffers full of 0xaa, unchained), edited, then asked with fd
// -1 or with a ring.
QueryAnswer query_once(Backend* b, const QueryEdit& edit, bool with_ring) {
  // Two pages and an inaccessible one after them, where a huge size faults.
  Pages pages(3);
  if (!pages.p || mprotect(pages.p + 2 * 4096, 4096, PROT_NONE)) return {-ENOMEM, {}};
  auto* m = reinterpret_cast<QueryMem*>(pages.p);
  std::memset(m, 0, sizeof(*m));
  for (unsigned i = 0; i < 4; ++i) {
    std::memset(m->data[i], 0xaa, QueryMem::kDataBytes);
    m->hdr[i].query_data = reinterpret_cast<std::uintptr_t>(m->data[i]);
    m->hdr[i].query_op = uapi::kQueryOpcodes;
    m->hdr[i].size = sizeof(uapi::QueryOpcode);
  }
  void* arg = &m->hdr[0];
  unsigned nr = 0;
  edit(m, &arg, &nr);
  QueryAnswer a;
  if (with_ring) {
    Ring r(b);
    if (const int fd = r.init(4); fd < 0) return {fd, {}};
    a.ret = r.reg(uapi::kRegisterQuery, arg, nr);
  } else {
    a.ret = b->reg(-1, uapi::kRegisterQuery, arg, nr);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(m);
  a.bytes.assign(p, p + sizeof(*m));
  return a;
}

std::uint64_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(UringQueryDiff, ChainsAnswerAsTheKernel) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  const std::vector<std::pair<std::string, QueryEdit>> cases = {
      {"opcodes", [](QueryMem*, void**, unsigned*) {}},
      {"bigger buffer: the rest zeroed",
       [](QueryMem* m, void**, unsigned*) { m->hdr[0].size = 200; }},
      {"smaller buffer: cut", [](QueryMem* m, void**, unsigned*) { m->hdr[0].size = 5; }},
      {"size 0", [](QueryMem* m, void**, unsigned*) { m->hdr[0].size = 0; }},
      {"result set", [](QueryMem* m, void**, unsigned*) { m->hdr[0].result = 1; }},
      {"reserved word", [](QueryMem* m, void**, unsigned*) { m->hdr[0].resv[2] = 1; }},
      {"unknown query", [](QueryMem* m, void**, unsigned*) { m->hdr[0].query_op = 1; }},
      {"unknown query, no buffer",
       [](QueryMem* m, void**, unsigned*) {
         m->hdr[0].query_op = 0xffffffffu;
         m->hdr[0].query_data = 0;
         m->hdr[0].size = 0;
       }},
      {"unknown query, unwritable buffer",
       [](QueryMem* m, void**, unsigned*) {
         m->hdr[0].query_op = 7;
         m->hdr[0].query_data = 8;
       }},
      {"unreadable buffer", [](QueryMem* m, void**, unsigned*) { m->hdr[0].query_data = 8; }},
      {"huge size: zeroed up to the fault",
       [](QueryMem* m, void**, unsigned*) { m->hdr[0].size = 1u << 30; }},
      {"no header", [](QueryMem*, void** arg, unsigned*) { *arg = nullptr; }},
      {"unreadable header",
       [](QueryMem*, void** arg, unsigned*) { *arg = reinterpret_cast<void*>(8); }},
      {"nr_args 1", [](QueryMem*, void**, unsigned* nr) { *nr = 1; }},
      {"chain of three",
       [](QueryMem* m, void**, unsigned*) {
         m->hdr[0].next_entry = addr(&m->hdr[1]);
         m->hdr[1].next_entry = addr(&m->hdr[2]);
         m->hdr[1].query_op = 3;
         m->hdr[2].size = 100;
       }},
      {"chain into a bad header",
       [](QueryMem* m, void**, unsigned*) {
         m->hdr[0].next_entry = addr(&m->hdr[1]);
         m->hdr[1].next_entry = 16;
       }},
      {"a cycle", [](QueryMem* m, void**, unsigned*) { m->hdr[0].next_entry = addr(&m->hdr[0]); }},
      {"a cycle of two",
       [](QueryMem* m, void**, unsigned*) {
         m->hdr[0].next_entry = addr(&m->hdr[1]);
         m->hdr[1].next_entry = addr(&m->hdr[0]);
       }},
  };
  for (const auto& [name, edit] : cases) {
    for (bool with_ring : {false, true}) {
      EXPECT_EQ(query_once(&kb, edit, with_ring), query_once(&ib, edit, with_ring))
          << name << (with_ring ? " (with a ring)" : " (fd -1)");
    }
  }
}

// The answer of IO_URING_QUERY_OPCODES is what iostack implements, which is
// all that 6.18 has.
TEST(UringQueryDiff, OpcodeQueryListsTheKernelsOpcodesAndFlags) {
  SKIP_WITHOUT_KERNEL_URING();
  auto ask = [](Backend* b) {
    uapi::QueryOpcode q{};
    uapi::QueryHdr h{};
    h.query_data = addr(&q);
    h.size = sizeof(q);
    EXPECT_EQ(0, b->reg(-1, uapi::kRegisterQuery, &h, 0)) << b->name();
    EXPECT_EQ(0, h.result) << b->name();
    return q;
  };
  KernelBackend kb;
  IostackBackend ib;
  const uapi::QueryOpcode k = ask(&kb);
  const uapi::QueryOpcode o = ask(&ib);
  EXPECT_EQ(k.nr_request_opcodes, o.nr_request_opcodes);
  EXPECT_EQ(k.nr_register_opcodes, o.nr_register_opcodes);
  EXPECT_EQ(k.feature_flags, o.feature_flags);
  EXPECT_EQ(k.ring_setup_flags, o.ring_setup_flags);
  EXPECT_EQ(k.enter_flags, o.enter_flags);
  EXPECT_EQ(k.sqe_flags, o.sqe_flags);
  EXPECT_EQ(k.nr_query_opcodes, o.nr_query_opcodes);
  EXPECT_EQ(0u, o.pad);
}

// A restricted ring refuses QUERY unless it was allowed; fd -1 has no
// restrictions.
TEST(UringQueryDiff, RestrictedRingsRefuseUnlessAllowed) {
  SKIP_WITHOUT_KERNEL_URING();
  auto answers = [](Backend* b) {
    std::vector<int> v;
    for (bool allow : {false, true}) {
      Ring r(b);
      io_uring_params p{};
      p.flags = IORING_SETUP_R_DISABLED;
      if (const int fd = r.init(4, p); fd < 0) return std::vector<int>{fd};
      io_uring_restriction res{};
      res.opcode = IORING_RESTRICTION_REGISTER_OP;
      res.register_op = allow ? uapi::kRegisterQuery : unsigned{IORING_REGISTER_PROBE};
      v.push_back(r.reg(IORING_REGISTER_RESTRICTIONS, &res, 1));
      v.push_back(r.reg(IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
      v.push_back(r.reg(uapi::kRegisterQuery, nullptr, 0));
      v.push_back(b->reg(-1, uapi::kRegisterQuery, nullptr, 0));
    }
    return v;
  };
  KernelBackend kb;
  IostackBackend ib;
  EXPECT_EQ(answers(&kb), answers(&ib));
}

// ---- IORING_REGISTER_ZCRX_IFQ

constexpr unsigned kDeferFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

struct ZcrxSetup {
  uapi::ZcrxIfqReg reg{};
  uapi::ZcrxAreaReg area{};
  uapi::RegionDesc rd{};
  unsigned ring_flags = kDeferFlags | IORING_SETUP_CQE32;
  unsigned nr = 1;
  bool null_arg = false;
  bool no_area = false;    // area_ptr 0
  bool no_region = false;  // region_ptr 0
};

struct ZcrxAnswer {
  int ret;
  uapi::ZcrxIfqReg reg;
  uapi::ZcrxAreaReg area;
  uapi::RegionDesc rd;
  bool operator==(const ZcrxAnswer& o) const {
    return ret == o.ret && !std::memcmp(&reg, &o.reg, sizeof(reg)) &&
           !std::memcmp(&area, &o.area, sizeof(area)) && !std::memcmp(&rd, &o.rd, sizeof(rd));
  }
};
std::ostream& operator<<(std::ostream& os, const ZcrxAnswer& a) {
  return os << "{ret=" << a.ret << " rq_entries=" << a.reg.rq_entries
            << " zcrx_id=" << a.reg.zcrx_id << " rqes=" << a.reg.offsets.rqes
            << " token=" << a.area.rq_area_token << " mmap_offset=" << a.rd.mmap_offset << "}";
}

// Memory the registrations name: a 64 KiB area and a 16 KiB refill region.
struct ZcrxMem {
  Pages area{16};
  Pages rq{4};
};

using ZcrxEdit = std::function<void(ZcrxSetup*)>;

ZcrxAnswer zcrx_once(Backend* b, const ZcrxMem& mem, const ZcrxEdit& edit) {
  ZcrxSetup s;
  s.reg.if_idx = 1;  // lo
  s.reg.rq_entries = 8;
  s.area.addr = addr(mem.area.p);
  s.area.len = mem.area.len;
  s.rd.user_addr = addr(mem.rq.p);
  s.rd.size = mem.rq.len;
  s.rd.flags = uapi::kMemRegionTypeUser;
  edit(&s);
  s.reg.area_ptr = s.no_area ? 0 : addr(&s.area);
  s.reg.region_ptr = s.no_region ? 0 : addr(&s.rd);
  Ring r(b);
  io_uring_params p{};
  p.flags = s.ring_flags;
  if (const int fd = r.init(4, p); fd < 0) return {fd, s.reg, s.area, s.rd};
  const int ret = r.reg(uapi::kRegisterZcrxIfq, s.null_arg ? nullptr : &s.reg, s.nr);
  return {ret, s.reg, s.area, s.rd};
}

TEST(UringZcrxDiff, RegistrationAnswersAsTheKernelWithoutACapableNic) {
  SKIP_WITHOUT_KERNEL_URING();
  KernelBackend kb;
  IostackBackend ib;
  ZcrxMem mem;
  ASSERT_TRUE(mem.area.p && mem.rq.p);
  std::vector<std::pair<std::string, ZcrxEdit>> cases = {
      {"lo", [](ZcrxSetup*) {}},
      {"no DEFER_TASKRUN", [](ZcrxSetup* s) { s->ring_flags = IORING_SETUP_CQE32; }},
      {"no CQE32", [](ZcrxSetup* s) { s->ring_flags = kDeferFlags; }},
      {"CQE_MIXED", [](ZcrxSetup* s) { s->ring_flags = kDeferFlags | uapi::kSetupCqeMixed; }},
      {"null argument", [](ZcrxSetup* s) { s->null_arg = true; }},
      {"nr_args 2", [](ZcrxSetup* s) { s->nr = 2; }},
      {"nr_args 0", [](ZcrxSetup* s) { s->nr = 0; }},
      {"no region", [](ZcrxSetup* s) { s->no_region = true; }},
      {"no area", [](ZcrxSetup* s) { s->no_area = true; }},
      {"no area, no entries",
       [](ZcrxSetup* s) {
         s->no_area = true;
         s->reg.rq_entries = 0;
       }},
      {"reserved", [](ZcrxSetup* s) { s->reg.resv[1] = 1; }},
      {"reserved 2", [](ZcrxSetup* s) { s->reg.resv2 = 1; }},
      {"zcrx_id", [](ZcrxSetup* s) { s->reg.zcrx_id = 2; }},
      {"offsets given (ignored)", [](ZcrxSetup* s) { s->reg.offsets.rqes = 5; }},
      {"queue -1", [](ZcrxSetup* s) { s->reg.if_rxq = ~0u; }},
      {"queue 7", [](ZcrxSetup* s) { s->reg.if_rxq = 7; }},
      {"no entries", [](ZcrxSetup* s) { s->reg.rq_entries = 0; }},
      {"flags", [](ZcrxSetup* s) { s->reg.flags = 1; }},
      {"too many entries", [](ZcrxSetup* s) { s->reg.rq_entries = 40000; }},
      {"too many entries, CLAMP",
       [](ZcrxSetup* s) {
         s->reg.rq_entries = 40000;
         s->ring_flags |= IORING_SETUP_CLAMP;
       }},
      {"1008 entries round up past the region", [](ZcrxSetup* s) { s->reg.rq_entries = 1008; }},
      {"510 entries round up to 512, which fit", [](ZcrxSetup* s) { s->reg.rq_entries = 510; }},
      {"kernel-memory region",
       [](ZcrxSetup* s) {
         s->rd.user_addr = 0;
         s->rd.flags = 0;
       }},
      {"region flags", [](ZcrxSetup* s) { s->rd.flags = 3; }},
      {"region reserved", [](ZcrxSetup* s) { s->rd.resv[3] = 1; }},
      {"region size 0", [](ZcrxSetup* s) { s->rd.size = 0; }},
      {"region id", [](ZcrxSetup* s) { s->rd.id = 1; }},
      {"region mmap_offset", [](ZcrxSetup* s) { s->rd.mmap_offset = 4096; }},
      {"region unaligned size", [](ZcrxSetup* s) { s->rd.size = 4000 * 4; }},
      {"user region without address", [](ZcrxSetup* s) { s->rd.user_addr = 0; }},
      {"address without the user flag", [](ZcrxSetup* s) { s->rd.flags = 0; }},
      {"region not mapped", [](ZcrxSetup* s) { s->rd.user_addr = 4096; }},
      {"area flags (not looked at)", [](ZcrxSetup* s) { s->area.flags = 4; }},
      {"area token (not looked at)", [](ZcrxSetup* s) { s->area.rq_area_token = 1; }},
      {"interface 0", [](ZcrxSetup* s) { s->reg.if_idx = 0; }},
      {"no such interface", [](ZcrxSetup* s) { s->reg.if_idx = 0x7ffffff0; }},
      {"no such interface, bad region",
       [](ZcrxSetup* s) {
         s->reg.if_idx = 0x7ffffff0;
         s->rd.id = 1;
       }},
  };
  // Every interface this machine has.
  if (struct if_nameindex* ifs = if_nameindex()) {
    for (struct if_nameindex* i = ifs; i->if_index; ++i) {
      const unsigned idx = i->if_index;
      cases.push_back(
          {std::string("interface ") + i->if_name, [idx](ZcrxSetup* s) { s->reg.if_idx = idx; }});
    }
    if_freenameindex(ifs);
  }
  for (const auto& [name, edit] : cases)
    EXPECT_EQ(zcrx_once(&kb, mem, edit), zcrx_once(&ib, mem, edit)) << name;
}

// IORING_OP_RECV_ZC without a registered queue, and the probe's view of
// both: as the kernel.
TEST(UringZcrxDiff, ProbeAndRecvZcWithoutAQueue) {
  SKIP_WITHOUT_KERNEL_URING();
  io_uring_params p{};
  p.flags = kDeferFlags | IORING_SETUP_CQE32;
  compare_with_kernel(
      [](Ring& r) {
        std::vector<Cqe> v;
        std::vector<unsigned char> buf(sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op));
        auto* pr = reinterpret_cast<io_uring_probe*>(buf.data());
        v.push_back(Cqe{0, r.reg(IORING_REGISTER_PROBE, pr, 256), 0});
        v.push_back(Cqe{1, pr->last_op, pr->ops_len});
        for (unsigned op = 0; op < pr->ops_len; ++op)
          v.push_back(Cqe{op, pr->ops[op].op, pr->ops[op].flags});
        io_uring_sqe* s = r.sqe();
        prep(s, uapi::kOpRecvZc, 0, nullptr, 0, 0, 7);
        s->ioprio = 0;
        append(&v, submit_wait(r, 1));
        return v;
      },
      4, p);
}

}  // namespace
}  // namespace uring_test
