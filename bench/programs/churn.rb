# hakmem bench, programs mode: ruby on object churn, as an interpreter's stress does. Each round
# builds a binary tree of Struct nodes with string labels, a hash of arrays and nested hashes, and
# a list of strings grown by appending (strings past the embedded size live in the allocator);
# it walks and folds them into a checksum, keeps one node in 64 in a long-lived ring (older
# survivors replaced, so they end up scattered) and drops the rest for the GC. Everything comes
# from a fixed LCG: the output is the same for every allocator.
#
# usage: ruby --disable-gems churn.rb [SCALE]   (SCALE 1: 24 rounds, about 2 s on one core)

ROUNDS_AT_SCALE_1 = 24
TREE_DEPTH = 14
HASH_KEYS = 20_000
RING = 8192
KEEP_EVERY = 64

Node = Struct.new(:left, :right, :value, :label)

$state = 12_345
def rnd
  $state = ($state * 1_103_515_245 + 12_345) & 0x7fff_ffff
end

def build(depth)
  v = rnd
  label = "node-#{v % 100_000}-" + ("x" * (v % 48))
  return Node.new(nil, nil, v, label) if depth.zero?
  Node.new(build(depth - 1), build(depth - 1), v, label)
end

def walk(node, ring, acc)
  return acc if node.nil?
  ring[(node.value / KEEP_EVERY) % RING] = node if (node.value % KEEP_EVERY).zero?
  acc = (acc * 31 + node.value + node.label.length) & 0xffff_ffff
  acc = walk(node.left, ring, acc)
  walk(node.right, ring, acc)
end

scale = (ARGV[0] || "1").to_f
rounds = [1, (ROUNDS_AT_SCALE_1 * scale).round].max
ring = Array.new(RING)
sum = 0
rounds.times do |r|
  tree = build(TREE_DEPTH)
  sum = walk(tree, ring, sum)
  table = {}
  HASH_KEYS.times do |i|
    v = rnd
    table["key-#{i}-#{v % 977}"] = [i, v.to_s * (1 + v % 3), { v % 13 => "value #{v}" }]
  end
  texts = Array.new(256) { +"" }
  (HASH_KEYS / 2).times do |i|
    texts[i % 256] << "line #{i} of round #{r}\n"
  end
  sum = (sum + table.size + texts.sum(&:bytesize)) & 0xffff_ffff
  table.each_value { |a| sum = (sum + a[1].length) & 0xffff_ffff if (a[0] % 97).zero? }
end
kept = ring.compact
puts "rounds #{rounds} kept #{kept.size} label_bytes #{kept.sum { |n| n.label.length }} sum #{sum}"
